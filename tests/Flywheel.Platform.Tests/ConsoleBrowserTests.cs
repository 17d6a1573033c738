using System.Net.Http.Json;
using System.Text.Json;
using Flywheel.Contracts;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The console in a real browser (Debian's chromium, headless), through the gateway, against a
/// model trained by the real services: models, ingestions with their reports, runs with their
/// steps, versions with metrics and lineage. Screenshots land in .flywheel/test-results/console.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class ConsoleBrowserTests(PlatformFixture fixture) : IAsyncLifetime
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("FLYWHEEL_CHROMIUM") ?? "/usr/bin/chromium",
            Headless = true,
            // Playwright gives every launch a fresh, temporary profile of its own.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }

    [Fact]
    public async Task The_console_shows_a_trained_models_ingestion_report_run_steps_and_version_lineage()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("console", TrainingData.FraudModel);
        var csv = TrainingData.FraudCsv(600, seed: 31).TrimEnd('\n') + "\nbad-1,2026-02-01T00:00:00Z,card-1,-5,grocery,true,3,0\n";
        var report = await TrainingData.UploadAsync(gateway, model, csv);
        var runId = await TrainingData.StartRunAsync(gateway, model, new { trainer = "sdca", seed = 2 });
        var run = await TrainingData.WaitForRunAsync(gateway, runId, TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", run.ToString());
        var version = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1");

        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = _flywheel.CreateClient(ResourceNames.Gateway).BaseAddress!.ToString() });

        await page.GotoAsync("/models");
        await page.GetByRole(AriaRole.Link, new() { Name = model }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = model, Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("table").First).ToContainTextAsync("merchant_category");
        await Screenshot(page, "model");

        // Versions with their metrics, and a version's lineage.
        await page.GotoAsync($"/models/{model}?section=versions");
        await ClickUntilVisibleAsync(page.GetByRole(AriaRole.Link, new() { Name = "v1" }), page.GetByRole(AriaRole.Heading, new() { Name = $"{model} v1" }));
        var lineage = page.Locator("section[aria-labelledby=lineage-heading]");
        await Expect(lineage).ToContainTextAsync(version.GetProperty("lineage").GetProperty("snapshot_sha256").GetString()!);
        await Expect(lineage).ToContainTextAsync("sdca");
        await Expect(page.Locator("section[aria-labelledby=metrics-heading]")).ToContainTextAsync("AUC", new() { IgnoreCase = true });
        await Expect(page.Locator("section[aria-labelledby=artifact-heading]")).ToContainTextAsync(version.GetProperty("artifact").GetProperty("sha256").GetString()!);
        await Screenshot(page, "version");

        // The run's steps, in order, all succeeded.
        await page.GotoAsync($"/runs/{runId}");
        var steps = page.Locator("table.timeline tbody tr");
        await Expect(steps).ToHaveCountAsync(9);
        Assert.Equal(["snapshot", "split", "train", "evaluate", "export", "parity", "profile", "upload", "register"],
            await steps.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.step)"));
        await Expect(page.Locator("table.timeline tbody tr.step-succeeded")).ToHaveCountAsync(9);
        await Screenshot(page, "run");

        // The ingestion in the data section, and its report with the quarantined row's line and field.
        await page.GotoAsync($"/models/{model}?section=data");
        var ingestions = page.Locator("section[aria-labelledby=ingestions-heading] tbody tr");
        await Expect(ingestions).ToHaveCountAsync(1);
        var shown = page.Locator("article.report");
        await ClickUntilVisibleAsync(ingestions.GetByRole(AriaRole.Button, new() { Name = "Report" }), shown);
        await Expect(shown).ToContainTextAsync($"{report.GetProperty("accepted").GetInt64()} accepted");
        await Expect(shown).ToContainTextAsync("1 rejected");
        await Expect(shown).ToContainTextAsync("amount");
        await Expect(shown).ToContainTextAsync("602");
        await Screenshot(page, "data");
    }

    /// <summary>
    /// A prerendered page shows its buttons before its interactive circuit is connected, and a
    /// click in that moment does nothing; click again until the click has its effect.
    /// </summary>
    private static async Task ClickUntilVisibleAsync(ILocator button, ILocator effect)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                // A click that navigated removes the button; the next attempt only looks for the effect.
                if (await button.CountAsync() > 0)
                {
                    await button.ClickAsync(new() { Timeout = 2_000 });
                }

                await Expect(effect).ToBeVisibleAsync(new() { Timeout = 1_000 });
                return;
            }
            catch (PlaywrightException) when (attempt < 19)
            {
            }
        }
    }

    private async Task Screenshot(IPage page, string name)
    {
        var directory = Path.Combine(_flywheel.DataDirectory, "..", "..", "test-results", "console");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, $"{name}.png"), FullPage = true });
    }
}
