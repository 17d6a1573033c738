using System.Net.Http.Json;
using System.Text.Json;
using Flywheel.Contracts;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The console in a real browser (Debian's chromium, headless), through the gateway, against a
/// model trained by the real services: models, ingestions with their reports, runs with their
/// steps, versions with metrics and lineage; an operator signing in to approve a waiting canary,
/// the audit log and the drift page. Screenshots land in .flywheel/test-results/console.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class ConsoleBrowserTests(PlatformFixture fixture) : IAsyncLifetime
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private ConsoleBrowser _browser = null!;

    public async Task InitializeAsync() => _browser = await ConsoleBrowser.LaunchAsync(_flywheel);

    public async Task DisposeAsync() => await _browser.DisposeAsync();

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

        var page = await _browser.NewPageAsync(height: 720);

        await ConsoleBrowser.GoToAsync(page, "/models");
        await page.GetByRole(AriaRole.Link, new() { Name = model }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = model, Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("table").First).ToContainTextAsync("merchant_category");
        await _browser.ScreenshotAsync(page, "model");

        // Versions with their metrics, and a version's lineage.
        await ConsoleBrowser.GoToAsync(page, $"/models/{model}?section=versions");
        await ConsoleBrowser.ClickUntilVisibleAsync(page.GetByRole(AriaRole.Link, new() { Name = "v1" }), page.GetByRole(AriaRole.Heading, new() { Name = $"{model} v1" }));
        var lineage = page.Locator("section[aria-labelledby=lineage-heading]");
        await Expect(lineage).ToContainTextAsync(version.GetProperty("lineage").GetProperty("snapshot_sha256").GetString()!);
        await Expect(lineage).ToContainTextAsync("sdca");
        await Expect(page.Locator("section[aria-labelledby=metrics-heading]")).ToContainTextAsync("AUC", new() { IgnoreCase = true });
        await Expect(page.Locator("section[aria-labelledby=artifact-heading]")).ToContainTextAsync(version.GetProperty("artifact").GetProperty("sha256").GetString()!);
        await _browser.ScreenshotAsync(page, "version");

        // The run's steps, in order, all succeeded.
        await ConsoleBrowser.GoToAsync(page, $"/runs/{runId}");
        var steps = page.Locator("table.timeline tbody tr");
        await Expect(steps).ToHaveCountAsync(9);
        Assert.Equal(["snapshot", "split", "train", "evaluate", "export", "parity", "profile", "upload", "register"],
            await steps.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.step)"));
        await Expect(page.Locator("table.timeline tbody tr.step-succeeded")).ToHaveCountAsync(9);
        await _browser.ScreenshotAsync(page, "run");

        // The ingestion in the data section, and its report with the quarantined row's line and field:
        // the report quotes rows, so reading it needs a key with a read role (the sign-in returns here).
        await ConsoleBrowser.GoToAsync(page, $"/models/{model}?section=data");
        await Expect(page.Locator("#ingestion-needs-key")).ToBeVisibleAsync();
        await ConsoleBrowser.GoToAsync(page, $"/sign-in?return={Uri.EscapeDataString($"/models/{model}?section=data")}");
        await Expect(page.Locator("form button[type=submit]")).ToBeEnabledAsync(new() { Timeout = 30_000 });
        await page.Locator("#api-key").FillAsync(_flywheel.AdminKey);
        await page.Locator("form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#signed-in-as")).ToBeVisibleAsync();
        await Expect(page.Locator("#ingestion-needs-key")).ToHaveCountAsync(0);
        var ingestions = page.Locator("section[aria-labelledby=ingestions-heading] tbody tr");
        await Expect(ingestions).ToHaveCountAsync(1);
        var shown = page.Locator("article.report");
        await ConsoleBrowser.ClickUntilVisibleAsync(ingestions.GetByRole(AriaRole.Button, new() { Name = "Report" }), shown);
        await Expect(shown).ToContainTextAsync($"{report.GetProperty("accepted").GetInt64()} accepted");
        await Expect(shown).ToContainTextAsync("1 rejected");
        await Expect(shown).ToContainTextAsync("amount");
        await Expect(shown).ToContainTextAsync("602");
        await _browser.ScreenshotAsync(page, "data");
    }

    [Fact]
    public async Task An_operator_signs_in_approves_a_waiting_canary_sees_it_promoted_and_audited_and_reads_the_drift_page()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("console-loop", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_500, seed: 31));
        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 8 }, seed = 1 });
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "first version" }))
        {
            Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
        }

        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 12 }, seed = 2 });
        using (var policy = await admin.PutAsJsonAsync($"/api/models/{model}/policy", new
        {
            require_approval = true,
            rollout = new { canary_percent = 50, bake_minutes = 0.2, analysis_interval_seconds = 2, canary = new { min_requests = 30, min_labelled = 30, latency_floor_ms = 25 } },
        }))
        {
            Assert.True(policy.IsSuccessStatusCode, await policy.Content.ReadAsStringAsync());
        }

        Guid rolloutId;
        using (var started = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts", new { version = 2 }))
        {
            Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync());
            rolloutId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rollout_id").GetGuid();
        }

        var waiting = await DriveTrafficUntilAsync(admin, model, rolloutId, state => state is "awaiting_approval" or "promoted" or "rolled_back" or "failed");
        Assert.True(waiting.GetProperty("state").GetString() == "awaiting_approval", $"not awaiting approval: {waiting}");
        using (var evaluated = await admin.PostAsJsonAsync($"/api/models/{model}/drift/evaluate", new { }))
        {
            Assert.True(evaluated.IsSuccessStatusCode, await evaluated.Content.ReadAsStringAsync());
        }

        var operatorName = "console-op-" + Guid.NewGuid().ToString("N")[..8];
        var operatorKey = await ServingSetup.CreateKeyAsync(admin, operatorName, ["operator"], null);
        var page = await _browser.NewPageAsync(height: 900);

        // Sign in; the page goes back to the model's rollouts, in the same circuit that holds the key.
        await ConsoleBrowser.GoToAsync(page, $"/sign-in?return={Uri.EscapeDataString($"/models/{model}?section=rollouts")}");
        // The button is enabled once the page is interactive; a value typed before then would be re-rendered away.
        await Expect(page.Locator("form button[type=submit]")).ToBeEnabledAsync(new() { Timeout = 30_000 });
        await page.Locator("#api-key").FillAsync(operatorKey);
        await page.Locator("form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#signed-in-as")).ToContainTextAsync(operatorName);
        Assert.DoesNotContain(operatorKey, await page.ContentAsync(), StringComparison.Ordinal);

        var rollout = page.Locator("article.rollout").First;
        await Expect(rollout.Locator("h3 .badge")).ToHaveAttributeAsync("data-state", "awaiting_approval");
        await Expect(rollout.Locator("section.analysis.latest .badge")).ToHaveTextAsync("Promote");
        await Expect(rollout.Locator("section.analysis.latest table.checks tbody tr").First).ToContainTextAsync("Traffic");
        await _browser.ScreenshotAsync(page, "rollout", page.Locator("section[aria-labelledby=rollouts-heading]"));

        await rollout.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();
        await Expect(rollout.Locator(".actions [role=alert]")).ToContainTextAsync("promote v2 to all production traffic");
        await rollout.GetByRole(AriaRole.Button, new() { Name = "Confirm approve" }).ClickAsync();
        await Expect(rollout.Locator("h3 .badge")).ToHaveAttributeAsync("data-state", "promoted", new() { Timeout = 60_000 });
        await Expect(rollout.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);

        // The audit log, filtered to this model's approvals, names the operator's key.
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit log" }).ClickAsync();
        await page.Locator("#audit-model").FillAsync(model);
        await page.Locator("#audit-action").FillAsync("rollout.approved");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        var approvals = page.Locator("table.audit tbody tr");
        await Expect(approvals).ToHaveCountAsync(1);
        await Expect(approvals.First).ToContainTextAsync(operatorName);
        await Expect(approvals.First).ToContainTextAsync(rolloutId.ToString());
        await _browser.ScreenshotAsync(page, "audit");

        // The drift page reads the monitor with no key: the report's features and their histograms.
        await ConsoleBrowser.GoToAsync(page, $"/models/{model}/drift");
        await Expect(page.Locator("table.drift-grid tbody tr").First).ToContainTextAsync("amount");
        await Expect(page.Locator("article.feature")).ToHaveCountAsync(4);
        // Reference and current, each a Radzen column series.
        await Expect(page.Locator("article.feature[aria-labelledby=feature-amount] figure.histogram .rz-column-series")).ToHaveCountAsync(2);
        await Expect(page.Locator("article.feature[aria-labelledby=feature-amount] table.histogram-table tbody tr")).Not.ToHaveCountAsync(0);
        await _browser.ScreenshotAsync(page, "drift");

        // At tablet width the page reflows instead of scrolling sideways (wide tables scroll inside their box).
        await page.SetViewportSizeAsync(768, 1024);
        await Expect(page.Locator("article.feature")).ToHaveCountAsync(4);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"),
            "the drift page scrolls sideways at 768 px");
        await _browser.ScreenshotAsync(page, "drift-tablet");
    }

    [Fact]
    public async Task An_operator_signs_in_and_looks_up_a_served_prediction_with_its_version_and_label()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("console-lookup", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_500, seed: 41));
        await TrainAsync(admin, model, new { trainer = "fasttree", seed = 1 });
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "lookup" }))
        {
            Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
        }

        using var predictor = ServingSetup.Client(_flywheel,
            await ServingSetup.CreateKeyAsync(admin, "console-lookup-" + Guid.NewGuid().ToString("N")[..8], ["predictor"], [model], requestsPerSecond: 100_000));
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);
        var answer = await ServingSetup.PredictAsync(predictor, model, new[] { new { amount = 640.5, merchant_category = "travel", is_online = true, hour = 4 } });
        var id = answer.GetProperty("prediction_ids")[0].GetGuid();
        using (var feedback = await predictor.PostAsJsonAsync($"/v1/models/{model}/feedback", new { prediction_id = id, label = true }))
        {
            Assert.True(feedback.IsSuccessStatusCode, await feedback.Content.ReadAsStringAsync());
        }

        await using (var database = await _flywheel.OpenDatabaseAsync())
        {
            await ServingSetup.WaitForLoggedAsync(database, [id], TimeSpan.FromSeconds(60));
        }

        var operatorName = "console-lookup-op-" + Guid.NewGuid().ToString("N")[..8];
        var operatorKey = await ServingSetup.CreateKeyAsync(admin, operatorName, ["operator"], null);
        var page = await _browser.NewPageAsync(height: 900);

        // Sign in; the page goes back to the lookup form in the circuit that holds the key.
        await ConsoleBrowser.GoToAsync(page, $"/sign-in?return={Uri.EscapeDataString("/predictions")}");
        await Expect(page.Locator("form button[type=submit]")).ToBeEnabledAsync(new() { Timeout = 30_000 });
        await page.Locator("#api-key").FillAsync(operatorKey);
        await page.Locator("form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#signed-in-as")).ToContainTextAsync(operatorName);

        await page.GetByLabel("Prediction id").FillAsync(id.ToString());
        await page.GetByRole(AriaRole.Button, new() { Name = "Look up" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/predictions/{id}$"));
        var facts = page.Locator("dl.prediction-facts");
        await Expect(facts).ToContainTextAsync(model);
        await Expect(facts.GetByRole(AriaRole.Link, new() { Name = "v1" })).ToHaveAttributeAsync("href", $"/models/{model}/versions/1");
        await Expect(page.Locator(".prediction-feedback dl")).ToContainTextAsync("true");
        await Expect(page.Locator("table.values").First).ToContainTextAsync("640.5");
        await Expect(page.Locator("dl.lineage-chain")).ToContainTextAsync("fasttree");
        await _browser.ScreenshotAsync(page, "prediction");
    }

    [Fact]
    public async Task A_viewer_signs_in_is_offered_no_approve_or_reject_on_a_rollout_in_progress_and_reads_the_audit_log()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("console-viewer", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_500, seed: 31));
        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 8 }, seed = 1 });
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "first version" }))
        {
            Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
        }

        // v2 shadows for an hour: a rollout an operator could reject, waiting on the page.
        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 12 }, seed = 2 });
        using (var policy = await admin.PutAsJsonAsync($"/api/models/{model}/policy", new { require_approval = true, rollout = new { shadow_minutes = 60 } }))
        {
            Assert.True(policy.IsSuccessStatusCode, await policy.Content.ReadAsStringAsync());
        }

        using (var started = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts", new { version = 2 }))
        {
            Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync());
        }

        var viewerName = "console-viewer-" + Guid.NewGuid().ToString("N")[..8];
        var viewerKey = await ServingSetup.CreateKeyAsync(admin, viewerName, ["viewer"], null);
        var page = await _browser.NewPageAsync(height: 900);

        await ConsoleBrowser.GoToAsync(page, $"/sign-in?return={Uri.EscapeDataString($"/models/{model}?section=rollouts")}");
        await Expect(page.Locator("form button[type=submit]")).ToBeEnabledAsync(new() { Timeout = 30_000 });
        await page.Locator("#api-key").FillAsync(viewerKey);
        await page.Locator("form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {viewerName} (viewer)");

        var rollouts = page.Locator("section[aria-labelledby=rollouts-heading]");
        await Expect(rollouts.Locator("article.rollout h3 .badge").First).ToHaveAttributeAsync("data-state", "shadowing", new() { Timeout = 60_000 });
        await Expect(rollouts.Locator("#sign-in-to-decide")).ToHaveTextAsync("Signed in as a viewer: you can look, not change.");
        await Expect(rollouts.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await _browser.ScreenshotAsync(page, "viewer");

        // The audit log reads with the viewer's key: this model's history, written by the admin.
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit log" }).ClickAsync();
        await page.Locator("#audit-model").FillAsync(model);
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        var entries = page.Locator("table.audit tbody tr");
        await Expect(entries.Last).ToContainTextAsync("model.created");
        await Expect(page.Locator("table.audit")).ToContainTextAsync("rollout.requested");
        await Expect(page.Locator("table.audit")).Not.ToContainTextAsync(viewerName);
    }

    private static async Task TrainAsync(HttpClient admin, string model, object request)
    {
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, request), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
    }

    /// <summary>Predictions through the gateway, one at a time, until the rollout reaches a state <paramref name="until"/> accepts.</summary>
    private async Task<JsonElement> DriveTrafficUntilAsync(HttpClient admin, string model, Guid rolloutId, Func<string, bool> until)
    {
        using var predictor = ServingSetup.Client(_flywheel,
            await ServingSetup.CreateKeyAsync(admin, "console-traffic-" + Guid.NewGuid().ToString("N")[..8], ["predictor"], [model], requestsPerSecond: 100_000));
        var random = new Random(7);
        string[] categories = ["grocery", "travel", "online", "fuel"];
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        var lastLook = DateTime.MinValue;
        JsonElement? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var instance = new { amount = Math.Round(random.NextDouble() * 900, 2), merchant_category = categories[random.Next(4)], is_online = random.Next(2) == 1, hour = random.Next(24) };
            await ServingSetup.PredictAsync(predictor, model, [instance]);
            if (DateTime.UtcNow - lastLook > TimeSpan.FromSeconds(1))
            {
                lastLook = DateTime.UtcNow;
                using var response = await admin.GetAsync($"/api/models/{model}/rollouts/{rolloutId}");
                last = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonElement>() : null;
                if (last is { } rollout && until(rollout.GetProperty("state").GetString()!))
                {
                    return rollout;
                }
            }
        }

        Assert.Fail($"Rollout {rolloutId} of {model} did not get there: {last}");
        return default;
    }
}
