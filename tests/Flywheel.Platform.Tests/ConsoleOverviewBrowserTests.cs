using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The overview page in a real browser (Debian's chromium, headless), through the gateway: a
/// trained, deployed model with traffic shows its numbers and Radzen's charts at laptop and tablet
/// widths. Screenshots land in .flywheel/test-results/console.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class ConsoleOverviewBrowserTests(PlatformFixture fixture) : IAsyncLifetime
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private ConsoleBrowser _browser = null!;

    public async Task InitializeAsync() => _browser = await ConsoleBrowser.LaunchAsync(_flywheel);

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task The_overview_shows_a_deployed_model_s_traffic_and_its_charts_at_laptop_and_tablet_width()
    {
        using var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("overview-ui", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(600, seed: 41));
        var run = await TrainingData.WaitForRunAsync(gateway, await TrainingData.StartRunAsync(gateway, model, new { trainer = "sdca", seed = 3 }), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", run.ToString());
        using (var deployed = await gateway.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "overview" }))
        {
            Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
        }

        const int Sent = 30;
        var sent = 0;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (sent < Sent && DateTime.UtcNow < deadline)
        {
            using var response = await gateway.PostAsync($"/v1/models/{model}:predict", new StringContent(
                $$"""{ "instances": [ { "amount": {{20 + sent}}, "merchant_category": "online", "is_online": true, "hour": 3, "entity_id": "card-{{sent}}" } ] }""",
                Encoding.UTF8, "application/json"));
            // The first calls may reach a worker still loading the version.
            if (response.StatusCode == HttpStatusCode.OK)
            {
                sent++;
            }
            else
            {
                await Task.Delay(250);
            }
        }

        Assert.Equal(Sent, sent);
        var page = await _browser.NewPageAsync(width: 1366, height: 900);
        await ConsoleBrowser.GoToAsync(page, "/");

        var card = page.Locator($"article.overview-model[data-model='{model}']");
        await Expect(card).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(card.Locator("[data-testid=serving]")).ToHaveTextAsync("v1");
        await Expect(card.Locator("[data-testid=split]")).ToHaveTextAsync("v1 100%");
        // The prediction log is written asynchronously; the page refreshes until every answer counts.
        await Expect(card.Locator("[data-testid=rate]")).ToContainTextAsync($"({Sent} requests in 5 min)", new() { Timeout = 30_000 });
        await Expect(card.Locator("[data-testid=p95]")).ToContainTextAsync(" ms");
        // Radzen draws a chart's svg only once the browser has reported its size over the circuit,
        // which on a busy machine can take longer than Playwright's default five seconds.
        var drawn = new LocatorAssertionsToBeVisibleOptions { Timeout = 30_000 };
        await Expect(card.Locator("[data-chart=requests] .rz-chart svg")).ToBeVisibleAsync(drawn);
        await Expect(card.Locator("[data-chart=p95] .rz-chart svg")).ToBeVisibleAsync(drawn);
        Assert.Contains("Requests, last 30 minutes: peak", await card.Locator("[data-chart=requests] [role=img]").GetAttributeAsync("aria-label"), StringComparison.Ordinal);
        await _browser.ScreenshotAsync(page, "overview");

        await page.SetViewportSizeAsync(768, 1024);
        await Expect(card.Locator("[data-chart=requests] .rz-chart svg")).ToBeVisibleAsync(drawn);
        // Nothing runs off the side at tablet width.
        var overflow = await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > document.documentElement.clientWidth");
        Assert.False(overflow, "the overview scrolls sideways at 768 px");
        await _browser.ScreenshotAsync(page, "overview-tablet");
    }
}
