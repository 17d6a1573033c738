using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Flywheel.Contracts;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The console's controls in a real browser (Debian's chromium, headless) against the real
/// platform: an operator changes a canary's share, promotes it and rolls back, and finds each in
/// the deployment history and the audit log under the key's name; an admin creates a key (shown
/// once) and revokes it, after which the API refuses it. Screenshots land in .flywheel/test-results/console.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class ConsoleControlsBrowserTests(PlatformFixture fixture) : IAsyncLifetime
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private ConsoleBrowser _browser = null!;

    public async Task InitializeAsync() => _browser = await ConsoleBrowser.LaunchAsync(_flywheel);

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task An_operator_changes_a_canary_promotes_it_and_rolls_back_and_finds_each_in_the_history_and_the_audit_log()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("console-controls", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_000, seed: 17));
        await TrainAsync(admin, model, new { trainer = "sdca", seed = 1 });
        await TrainAsync(admin, model, new { trainer = "sdca", seed = 2 });
        await DeployAsync(admin, model, new { production = 1, reason = "first version" });
        await DeployAsync(admin, model, new { production = 1, canary = new { version = 2, percent = 20 }, reason = "try v2" });

        var operatorName = "console-controls-op-" + Guid.NewGuid().ToString("N")[..8];
        var operatorKey = await ServingSetup.CreateKeyAsync(admin, operatorName, ["operator"], null);
        var page = await _browser.NewPageAsync(height: 900);
        await SignInAsync(page, operatorKey, operatorName, $"/models/{model}?section=deployment");

        var traffic = page.Locator("dl.traffic");
        var controls = page.Locator("section.deployment-controls");
        var history = page.Locator("section[aria-labelledby=history-heading] tbody tr");
        await Expect(traffic).ToContainTextAsync("v2 on 20% of traffic");
        await _browser.ScreenshotAsync(page, "deployment-controls", controls);

        // A share out of range is explained in the form; nothing is sent.
        await controls.GetByLabel("Share of traffic (%)").FillAsync("100");
        await controls.GetByRole(AriaRole.Button, new() { Name = "Change canary" }).ClickAsync();
        await Expect(page.Locator("#canary-percent-error")).ToHaveTextAsync("Enter a whole percent from 1 to 99.");

        // The canary's share, confirmed in words, with a reason.
        await controls.GetByLabel("Share of traffic (%)").FillAsync("30");
        await controls.GetByRole(AriaRole.Button, new() { Name = "Change canary" }).ClickAsync();
        await Expect(page.Locator("#confirm-change")).ToHaveTextAsync($"Send 30% of {model}'s traffic to v2 (now 20%)? v1 keeps the other 70%.");
        await page.GetByLabel("Reason (optional; kept in the deployment history and the audit log)").FillAsync("more traffic for v2");
        await _browser.ScreenshotAsync(page, "deployment-confirm", controls);
        await controls.GetByRole(AriaRole.Button, new() { Name = "Confirm: change canary" }).ClickAsync();
        await Expect(traffic).ToContainTextAsync("v2 on 30% of traffic");
        await Expect(history.First).ToContainTextAsync(operatorName);
        await Expect(history.First).ToContainTextAsync("more traffic for v2");
        await Expect(history.First.Locator("th")).ToHaveTextAsync("3");

        // Promote the canary: v2 takes all traffic.
        await controls.GetByRole(AriaRole.Button, new() { Name = "Promote v2 to production" }).ClickAsync();
        await Expect(page.Locator("#confirm-change")).ToContainTextAsync("all of " + model + "'s traffic goes to v2 and v1 stops serving");
        await controls.GetByRole(AriaRole.Button, new() { Name = "Confirm: promote v2" }).ClickAsync();
        await Expect(traffic.Locator("dd").First).ToHaveTextAsync("v2");
        await Expect(traffic.Locator("dd").Nth(1)).ToHaveTextAsync("none");

        // Roll back to v1 through the rollback endpoint, with a reason.
        await controls.GetByRole(AriaRole.Button, new() { Name = "Roll back to v1" }).ClickAsync();
        await Expect(page.Locator("#confirm-change")).ToHaveTextAsync($"Roll {model} back to v1 on all traffic? v2 stops serving.");
        await page.GetByLabel("Reason (optional; kept in the deployment history and the audit log)").FillAsync("v2 worse on complaints");
        await controls.GetByRole(AriaRole.Button, new() { Name = "Confirm: roll back" }).ClickAsync();
        await Expect(traffic.Locator("dd").First).ToHaveTextAsync("v1");
        await Expect(history.First).ToContainTextAsync("rollback");
        await Expect(history.First).ToContainTextAsync(operatorName);
        await Expect(history.First).ToContainTextAsync("v2 worse on complaints");
        await Expect(history).ToHaveCountAsync(5);
        await _browser.ScreenshotAsync(page, "deployment-history");

        // What the registry holds is what the page said.
        var deployment = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal(5, deployment.GetProperty("revision").GetInt64());
        Assert.Equal(1, deployment.GetProperty("production").GetInt32());
        Assert.Equal(operatorName, deployment.GetProperty("updated_by").GetString());

        // At tablet width the controls stack instead of scrolling sideways.
        await page.SetViewportSizeAsync(768, 1024);
        await Expect(controls.GetByRole(AriaRole.Button, new() { Name = "Start canary" })).ToBeVisibleAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"),
            "the deployment section scrolls sideways at 768 px");
        await _browser.ScreenshotAsync(page, "deployment-tablet");
        await page.SetViewportSizeAsync(1280, 900);

        // The audit log names the operator's key for the change and for the rollback.
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit log" }).ClickAsync();
        // The unfiltered first page loads first: a filter sent before it answers would be overwritten by it.
        var entries = page.Locator("table.audit tbody tr");
        await Expect(entries.First).ToBeVisibleAsync();
        await page.Locator("#audit-model").FillAsync(model);
        await page.Locator("#audit-action").FillAsync("deployment.rollback");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(entries).ToHaveCountAsync(1);
        await Expect(entries.First).ToContainTextAsync(operatorName);
        await Expect(entries.First).ToContainTextAsync("v2 worse on complaints");
        await page.Locator("#audit-action").FillAsync("deployment.deploy");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(entries).ToHaveCountAsync(4);
        await Expect(entries.Nth(1)).ToContainTextAsync(operatorName);
        await Expect(entries.Nth(1)).ToContainTextAsync("more traffic for v2");
        await _browser.ScreenshotAsync(page, "deployment-audit");
    }

    [Fact]
    public async Task An_admin_creates_a_key_sees_it_once_and_revokes_it_and_the_api_then_refuses_it()
    {
        var page = await _browser.NewPageAsync(height: 900);
        await SignInAsync(page, _flywheel.AdminKey, "bootstrap-admin", "/keys");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "API keys", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("table.keys tbody tr").First).ToBeVisibleAsync();

        var name = "console-made-" + Guid.NewGuid().ToString("N")[..8];
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
        await page.Locator("#key-role-viewer").CheckAsync();
        await page.GetByLabel("Requests per second (optional; empty for the gateway's default)").FillAsync("5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();

        var shown = page.Locator("#new-key");
        await Expect(shown).ToBeVisibleAsync();
        var key = (await shown.TextContentAsync())!.Trim();
        Assert.StartsWith("fw_", key, StringComparison.Ordinal);
        var row = page.Locator("table.keys tbody tr", new() { HasText = name });
        await Expect(row).ToContainTextAsync("viewer");
        await Expect(row).ToContainTextAsync("5/s");
        await Expect(row).Not.ToContainTextAsync(key);
        await _browser.ScreenshotAsync(page, "key-created");

        // The key works: it says who it is.
        using var client = _flywheel.CreateClient(ResourceNames.Gateway);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var me = await client.GetFromJsonAsync<JsonElement>("/api/keys/me");
        Assert.Equal(name, me.GetProperty("name").GetString());

        // Once dismissed, the page holds it no more.
        await page.GetByRole(AriaRole.Button, new() { Name = "I have copied it" }).ClickAsync();
        await Expect(shown).ToHaveCountAsync(0);
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);

        await row.GetByRole(AriaRole.Button, new() { Name = $"Revoke {name}" }).ClickAsync();
        await Expect(page.Locator("#confirm-revoke")).ToContainTextAsync($"Revoke the key “{name}” (viewer)?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm: revoke" }).ClickAsync();
        await Expect(row.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(row).ToHaveClassAsync("revoked");
        await _browser.ScreenshotAsync(page, "keys");

        using var refused = await client.GetAsync("/api/keys/me");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private static async Task TrainAsync(HttpClient admin, string model, object request)
    {
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, request), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
    }

    private static async Task DeployAsync(HttpClient admin, string model, object deployment)
    {
        using var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", deployment);
        Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
    }

    /// <summary>Signs in with <paramref name="key"/> and comes back to <paramref name="returnTo"/> in the circuit that holds it.</summary>
    private static async Task SignInAsync(IPage page, string key, string name, string returnTo)
    {
        await page.GotoAsync($"/sign-in?return={Uri.EscapeDataString(returnTo)}");
        await Expect(page.Locator("header[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = 30_000 });
        // The button is enabled once the page is interactive; a value typed before then would be re-rendered away.
        await Expect(page.Locator("form button[type=submit]")).ToBeEnabledAsync(new() { Timeout = 30_000 });
        await page.Locator("#api-key").FillAsync(key);
        await page.Locator("form button[type=submit]").ClickAsync();
        await Expect(page.Locator("#signed-in-as")).ToContainTextAsync(name);
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
    }
}
