using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Flywheel.Core.Demo;
using Flywheel.Demo;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The first-run demo (issue 6) against the real platform, at a fast pace: it seeds card-fraud,
/// drives traffic that changes regime, and the platform turns the whole loop by itself — drift,
/// a retraining run, a canary, promotion. Started again on the same platform it resumes instead
/// of seeding or training again.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class DemoTests(PlatformFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan LoopTimeout = TimeSpan.FromMinutes(4);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task The_demo_turns_the_whole_loop_by_itself_and_a_second_start_resumes_without_seeding_again()
    {
        using var admin = _flywheel.AdminGateway();
        var model = CardFraudGenerator.ModelName;
        var lines = new ConcurrentQueue<string>();

        await using (var browser = await ConsoleBrowser.LaunchAsync(_flywheel))
        using (var stop = new CancellationTokenSource())
        using (var runner = new DemoRunner(Options(), line => lines.Enqueue(line)))
        {
            var running = runner.RunAsync(stop.Token);
            try
            {
                var deployment = await EventuallyAsync(admin, $"/api/models/{model}/deployment/history",
                    page => page.GetProperty("history").EnumerateArray().FirstOrDefault(h => h.GetProperty("reason").GetString() == "first-run demo"),
                    "v1 deployed by the demo", running);
                Assert.Equal(1, deployment.GetProperty("deployment").GetProperty("production").GetInt32());
                Assert.False(runner.Resumed);

                var drift = await EventuallyAsync(admin, $"/api/models/{model}/drift?version=1",
                    page => page.GetProperty("reports").EnumerateArray().FirstOrDefault(r => r.GetProperty("drifted").GetBoolean()),
                    "a drifted report for v1", running);
                var driftedFeatures = drift.GetProperty("features").EnumerateArray().Where(f => f.GetProperty("drifted").GetBoolean()).Select(f => f.GetProperty("name").GetString()).ToList();
                Assert.Contains("amount", driftedFeatures);
                await ShowDriftInTheConsoleAsync(browser, model);

                var run = await EventuallyAsync(admin, $"/api/models/{model}/training-runs",
                    list => list.GetProperty("runs").EnumerateArray().FirstOrDefault(r => r.GetProperty("trigger").GetString() is "drift" or "performance" && r.GetProperty("state").GetString() is "succeeded" or "failed"),
                    "a retraining run started by the loop to finish", running);
                Assert.True(run.GetProperty("state").GetString() == "succeeded", $"the retraining run failed: {run}");
                Assert.Equal(2, run.GetProperty("version").GetInt32());

                var rollout = await EventuallyAsync(admin, $"/api/models/{model}/rollouts",
                    list => list.GetProperty("rollouts").EnumerateArray().FirstOrDefault(r => r.GetProperty("version").GetInt32() == 2 && r.GetProperty("state").GetString() is "promoted" or "rolled_back" or "failed"),
                    "the v2 rollout to finish", running);
                Assert.True(rollout.GetProperty("state").GetString() == "promoted", $"v2 was not promoted: {rollout}");
                var production = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
                Assert.Equal(2, production.GetProperty("production").GetInt32());

                // The milestones reached the terminal as they happened. The demo polls: the new
                // production can be printed while the rollout still says "promoting", and its
                // "promoted" then comes with the next poll.
                await EventuallyAsync(() => lines.Any(l => l.Contains("production is now v2", StringComparison.Ordinal)), "the promotion to be printed", running);
                await EventuallyAsync(() => lines.Any(l => l.StartsWith("demo: rollout of v2: promoted", StringComparison.Ordinal)), "the promoted rollout to be printed", running);
                Assert.Contains(lines, l => l.StartsWith("demo: DRIFT detected on v1", StringComparison.Ordinal));
                Assert.Contains(lines, l => l.StartsWith("demo: training run started by itself", StringComparison.Ordinal));
                Assert.True(runner.Labelled > runner.Predicted / 2, $"most predictions should get their label back: {runner.Labelled} of {runner.Predicted}");

                // What a new user sees in the console at this point, with the demo still driving traffic:
                // the README's screenshots come from here.
                await ShowTheLoopInTheConsoleAsync(browser, model, run.GetProperty("trigger").GetString()!);
            }
            finally
            {
                await stop.CancelAsync();
                foreach (var line in lines)
                {
                    output.WriteLine(line);
                }
            }

            Assert.True(await running, "the demo should stop cleanly when cancelled");
        }

        var runsBefore = (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/training-runs")).GetProperty("runs").GetArrayLength();
        var ingestionsBefore = (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/ingestions")).GetProperty("ingestions").GetArrayLength();
        lines.Clear();

        // Started again on the same platform: the model is there, so it only resumes traffic.
        using (var stop = new CancellationTokenSource())
        using (var again = new DemoRunner(Options(), line => lines.Enqueue(line)))
        {
            var running = again.RunAsync(stop.Token);
            await EventuallyAsync(() => again.Predicted >= 100 && again.Labelled > 0, "the resumed demo's traffic and feedback", running);
            await stop.CancelAsync();
            Assert.True(await running);
            Assert.True(again.Resumed);
            Assert.Contains(lines, l => l.Contains("already deployed (production v2)", StringComparison.Ordinal));
        }

        var models = (await admin.GetFromJsonAsync<JsonElement>("/api/models")).GetProperty("models").EnumerateArray();
        Assert.Single(models, m => m.GetProperty("name").GetString() == model);
        Assert.Equal(runsBefore, (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/training-runs")).GetProperty("runs").GetArrayLength());
        Assert.Equal(ingestionsBefore, (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/ingestions")).GetProperty("ingestions").GetArrayLength());
        Assert.Equal(2, (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions")).GetProperty("versions").GetArrayLength());
        // Each start made its own traffic key and revoked the one before.
        var keys = (await admin.GetFromJsonAsync<JsonElement>("/api/keys")).GetProperty("keys").EnumerateArray()
            .Where(k => k.GetProperty("name").GetString() == DemoRunner.TrafficKeyName).ToList();
        Assert.Equal(2, keys.Count);
        Assert.Single(keys, k => k.GetProperty("revoked_at").ValueKind == JsonValueKind.Null);
    }

    /// <summary>The drift page just after the monitor found the regime change: the newest report, drifted, with its histograms.</summary>
    private static async Task ShowDriftInTheConsoleAsync(ConsoleBrowser browser, string model)
    {
        var page = await browser.NewPageAsync(height: 900);
        await ConsoleBrowser.GoToAsync(page, $"/models/{model}/drift");
        await Expect(page.Locator("table.drift-grid td.mark-drifted").First).ToBeVisibleAsync();
        await Expect(page.Locator("section[aria-labelledby=report-heading]")).ToContainTextAsync("amount");
        // Radzen draws a chart once the browser has measured it: wait for the histograms' columns before the picture.
        await Expect(page.Locator("article.feature[aria-labelledby=feature-amount] figure.histogram .rz-column-series")).ToHaveCountAsync(2);
        await Expect(page.Locator("figure.trend .rz-value-axis text").First).ToBeVisibleAsync();
        await page.WaitForTimeoutAsync(1_000); // Radzen's draw-in animation
        await browser.ScreenshotAsync(page, "demo-drift");
        await page.CloseAsync();
    }

    /// <summary>
    /// The console after the loop turned once: the model on the overview, its promoted rollout, and
    /// the retraining decision that started it. The regime change drifts the inputs and lowers the
    /// accuracy the fed-back labels show, so whichever check the monitor ran first (drift or
    /// performance) may be the trigger: the page must show the one the run was started by.
    /// </summary>
    private static async Task ShowTheLoopInTheConsoleAsync(ConsoleBrowser browser, string model, string trigger)
    {
        var page = await browser.NewPageAsync(height: 900);
        await ConsoleBrowser.GoToAsync(page, "/");
        var card = page.Locator($"article.overview-model[data-model='{model}']");
        await Expect(card.Locator("[data-testid=serving]")).ToHaveTextAsync("v2", new() { Timeout = 30_000 });
        await Expect(card.Locator("[data-chart=requests] .rz-chart svg")).ToBeVisibleAsync();
        // The shared test platform holds other tests' models too: the picture is the demo model's card.
        await browser.ScreenshotAsync(page, "demo-overview", card);

        await ConsoleBrowser.GoToAsync(page, $"/models/{model}?section=rollouts");
        await Expect(page.Locator("[data-state=promoted]").First).ToBeVisibleAsync(new() { Timeout = 30_000 });
        var decisions = page.Locator("section[aria-labelledby=retraining-heading]");
        await Expect(decisions).ToContainTextAsync(trigger);
        await Expect(decisions).ToContainTextAsync("Started");
        await browser.ScreenshotAsync(page, "demo-rollouts");
        await page.CloseAsync();
    }

    /// <summary>The demo's loop, compressed: a short history, the switch after 3 s, 200 transactions a second, a 30 s bake.</summary>
    private DemoOptions Options() => new()
    {
        Gateway = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway).BaseAddress!,
        AdminKey = _flywheel.AdminKey,
        // Little regime-A traffic before the switch (its labels never come back), and no drift
        // verdict before the window is full: the retrain then has regime B's labels to learn from
        // (800 rows or more). With a verdict at 800 rows a retrain could start on 240 rows of B and
        // lose the canary's AUC comparison against v1.
        DriftAfter = TimeSpan.FromSeconds(1),
        Rate = 20,
        Batch = 10,
        HistoryDays = 14,
        HistoryPerDay = 200,
        WindowRows = 1_000,
        MinimumRows = 1_000,
        EvaluationIntervalSeconds = 5,
        BakeMinutes = 0.5,
        FeedbackDelay = TimeSpan.FromSeconds(1),
        WatchInterval = TimeSpan.FromSeconds(1),
    };

    private static async Task<JsonElement> EventuallyAsync(HttpClient admin, string path, Func<JsonElement, JsonElement> pick, string what, Task<bool> running)
    {
        var deadline = DateTime.UtcNow + LoopTimeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(running.IsCompleted, $"the demo ended while waiting for {what}");
            using var response = await admin.GetAsync(path);
            last = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                var found = pick(JsonDocument.Parse(last).RootElement.Clone());
                if (found.ValueKind != JsonValueKind.Undefined)
                {
                    return found;
                }
            }

            await Task.Delay(500);
        }

        Assert.Fail($"Waited {LoopTimeout} for {what}; last answer from {path}: {last[..Math.Min(last.Length, 2000)]}");
        return default;
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what, Task<bool> running)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.False(running.IsCompleted, $"the demo ended while waiting for {what}");
            Assert.True(DateTime.UtcNow < deadline, $"waited 60 s for {what}");
            await Task.Delay(200);
        }
    }
}
