using System.Globalization;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class OverviewPageTests : ConsoleTest
{
    private const string Overview = "/api/overview";
    private const string Info = """{ "service": "flywheel-registry", "version": "0.1.0", "environment": "Development" }""";
    private static readonly DateTimeOffset Now = new(2026, 1, 4, 11, 0, 30, TimeSpan.Zero);

    /// <summary>A deployed canary with traffic, errors, a drift verdict and a live metric.</summary>
    private static string Serving(long requests = 120, long errors = 6, double p95 = 12.5) => $$"""
        { "name": "card-fraud", "task": "binary",
          "deployment": { "revision": 4, "production": 3, "production_percent": 90, "canary": { "version": 4, "percent": 10 }, "shadow": null, "updated_at": "2026-01-04T10:00:00+00:00" },
          "traffic": { "requests": {{requests}}, "rate_per_second": {{(requests / 300.0).ToString(CultureInfo.InvariantCulture)}}, "errors": {{errors}}, "error_rate": {{((double)errors / (requests + errors)).ToString(CultureInfo.InvariantCulture)}}, "p50_ms": 4.2, "p95_ms": {{p95.ToString(CultureInfo.InvariantCulture)}} },
          "versions": [
            { "version": 3, "requests": {{requests - 12}}, "rate_per_second": 0.36, "errors": {{errors}}, "error_rate": 0.05, "p50_ms": 4.1, "p95_ms": 12 },
            { "version": 4, "requests": 12, "rate_per_second": 0.04, "errors": 0, "error_rate": 0, "p50_ms": 5, "p95_ms": 14 } ],
          "series": {{Series(requests)}},
          "drift": { "report_id": "0190a6b2-0000-7000-8000-00000000000a", "version": 3, "drifted": true, "features_drifted": 2, "features": 5, "at": "2026-01-04T10:55:00+00:00" },
          "live_metric": { "report_id": "0190a6b2-0000-7000-8000-00000000000b", "version": 3, "metric": "auc", "value": 0.83, "ci_low": 0.79, "ci_high": 0.87, "confidence": 0.95, "labelled_rows": 250, "degraded": false, "at": "2026-01-04T10:50:00+00:00" } }
        """;

    private static readonly string Idle = $$"""
        { "name": "churn", "task": "multiclass", "deployment": null,
          "traffic": { "requests": 0, "rate_per_second": 0, "errors": 0, "error_rate": null, "p50_ms": null, "p95_ms": null },
          "versions": [], "series": {{Series(0)}}, "drift": null, "live_metric": null }
        """;

    /// <summary>30 minutes, all traffic in the last two: two thirds then one third.</summary>
    private static string Series(long requests) => "[" + string.Join(", ", Enumerable.Range(0, 30).Select(i =>
    {
        var minute = Now.AddSeconds(-30).AddMinutes(i - 29).ToString("O", CultureInfo.InvariantCulture);
        var count = i == 28 ? requests * 2 / 3 : i == 29 ? requests - requests * 2 / 3 : 0;
        var p95 = i == 28 ? "10.5" : i == 29 ? "12.5" : "null";
        return $$"""{ "minute": "{{minute}}", "requests": {{count}}, "errors": 0, "p95_ms": {{p95}} }""";
    })) + "]";

    private static string Answer(params string[] models) =>
        $$"""{ "at": "{{Now:O}}", "window_seconds": 300, "series_minutes": 30, "models": [{{string.Join(", ", models)}}] }""";

    /// <summary>For tests that look at one answer: the page still polls, but not so often that re-rendering its charts crowds out the test.</summary>
    private void RefreshRarely() => Settings.RunRefreshInterval = TimeSpan.FromMinutes(1);

    /// <summary>For tests that watch refreshes: often enough to see several in a second, rarely enough that a busy test run keeps up.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(150);

    private static string Said(AngleSharp.Dom.IElement card, string field) => Text(card.QuerySelector($"[data-testid={field}]")!);

    [Fact]
    public void Each_model_shows_its_serving_version_split_rate_errors_latency_drift_and_live_metric()
    {
        RefreshRarely();
        Registry.Json("/api/info", Info).Json(Overview, Answer(Serving(), Idle));

        var page = Render<Home>();

        page.WaitForElement("article.overview-model[data-model=card-fraud]");
        var card = page.Find("article.overview-model[data-model=card-fraud]");
        Assert.Equal("v3", Said(card, "serving"));
        Assert.Equal("/models/card-fraud/versions/3", card.QuerySelector("[data-testid=serving] a")!.GetAttribute("href"));
        Assert.Equal("v3 90% · canary v4 10%", Said(card, "split"));
        Assert.Equal("0.4/s (120 requests in 5 min)", Said(card, "rate"));
        Assert.Equal("4.76% (6 failed rows)", Said(card, "error-rate"));
        Assert.Equal("12.5 ms (p50 4.2 ms)", Said(card, "p95"));
        Assert.StartsWith("drifted: 2 of 5 features drifted", Said(card, "drift"), StringComparison.Ordinal);
        Assert.Equal("/models/card-fraud/drift?report=0190a6b2-0000-7000-8000-00000000000a", card.QuerySelector("[data-testid=drift] a")!.GetAttribute("href"));
        Assert.Equal("auc 0.83 ± 0.04 (95% interval 0.79 to 0.87) on 250 labelled rows", Said(card, "live-metric"));
        Assert.Equal(["v3 108 6 5% 4.1 ms 12 ms", "v4 12 0 0% 5 ms 14 ms"], card.QuerySelectorAll("table.version-traffic tbody tr").Select(r => string.Join(" ", Cells(r))));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public void The_charts_are_radzen_svg_named_by_their_numbers_with_a_table_of_every_minute()
    {
        RefreshRarely();
        Registry.Json("/api/info", Info).Json(Overview, Answer(Serving()));

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.NotEmpty(page.FindAll("[data-chart=requests] .rz-chart svg")));
        Assert.NotEmpty(page.FindAll("[data-chart=p95] .rz-chart svg"));
        Assert.Equal("Requests, last 30 minutes: peak 80 at 10:59, latest 40 at 11:00", page.Find("[data-chart=requests] [role=img]").GetAttribute("aria-label"));
        Assert.Equal("p95 latency, last 30 minutes: peak 12.5 ms at 11:00, latest 12.5 ms at 11:00", page.Find("[data-chart=p95] [role=img]").GetAttribute("aria-label"));
        var minutes = page.FindAll("[data-chart=requests] table tbody tr");
        Assert.Equal(30, minutes.Count);
        Assert.Equal(["10:59", "80"], Cells(minutes[28]));
        Assert.Equal(["10:59 10.5 ms", "11:00 12.5 ms"], page.FindAll("[data-chart=p95] table tbody tr").Select(r => string.Join(" ", Cells(r))));
    }

    [Fact]
    public void A_model_that_is_not_deployed_says_so_and_shows_no_numbers_it_does_not_have()
    {
        RefreshRarely();
        Registry.Json("/api/info", Info).Json(Overview, Answer(Idle));

        var page = Render<Home>();

        page.WaitForElement("article.overview-model[data-model=churn]");
        var card = page.Find("article.overview-model[data-model=churn]");
        Assert.Equal("not deployed", Said(card, "serving"));
        Assert.Equal("not deployed", Said(card, "split"));
        Assert.Equal("0/s (0 requests in 5 min)", Said(card, "rate"));
        Assert.Equal("— (0 failed rows)", Said(card, "error-rate"));
        Assert.Equal("— (p50 —)", Said(card, "p95"));
        Assert.Equal("no report yet drift page", Said(card, "drift"));
        Assert.Equal("/models/churn/drift", card.QuerySelector("[data-testid=drift] a")!.GetAttribute("href"));
        Assert.Equal("not measured yet (needs feedback labels)", Said(card, "live-metric"));
        Assert.Contains("No answers in the last 30 minutes.", Text(card.QuerySelector("[data-chart=p95]")!), StringComparison.Ordinal);
        Assert.Empty(card.QuerySelectorAll("table.version-traffic"));
    }

    [Fact]
    public void A_fresh_install_says_how_to_get_a_first_model()
    {
        RefreshRarely();
        Registry.Json("/api/info", Info).Json(Overview, Answer());

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Equal("No models yet", Text(page.Find("#no-models-heading"))));
        var empty = Text(page.Find("section.empty"));
        Assert.Contains("./flywheel up starts a demo", empty, StringComparison.Ordinal);
        Assert.Contains("curl -X POST \"$(cat .flywheel/gateway.url)/api/models\"", page.Find("section.empty pre code").TextContent, StringComparison.Ordinal);
        Assert.Empty(page.FindAll("article.overview-model"));
        Assert.Equal("flywheel-registry 0.1.0", Text(page.Find("[data-testid=registry-version]")));
    }

    [Fact]
    public async Task The_page_refreshes_while_open_and_stops_once_it_is_gone()
    {
        Settings.RunRefreshInterval = Poll;
        Registry.Json("/api/info", Info).Json(Overview, Answer(Serving()), Answer(Serving(requests: 300, errors: 0, p95: 20)));

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Equal("1/s (300 requests in 5 min)", Said(page.Find("article.overview-model"), "rate")), TimeSpan.FromSeconds(10));
        Assert.Equal("0% (0 failed rows)", Said(page.Find("article.overview-model"), "error-rate"));
        Assert.Equal("20 ms (p50 4.2 ms)", Said(page.Find("article.overview-model"), "p95"));
        page.WaitForAssertion(() => Assert.True(Registry.Count(Overview) >= 3), TimeSpan.FromSeconds(10));

        await DisposeComponentsAsync();
        var asked = Registry.Count(Overview);
        await Task.Delay(Poll * 5);
        Assert.Equal(asked, Registry.Count(Overview));
    }

    [Fact]
    public void A_refresh_that_fails_keeps_the_last_numbers_and_says_why()
    {
        Settings.RunRefreshInterval = Poll;
        Registry.Json("/api/info", Info).Json(Overview, Answer(Serving()));

        var page = Render<Home>();
        page.WaitForElement("article.overview-model");
        Registry.Down();

        page.WaitForAssertion(() => Assert.Contains("Could not refresh: The control plane could not be reached", Text(page.Find("p.problem[role=status]")), StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal("v3 90% · canary v4 10%", Said(page.Find("article.overview-model"), "split"));
    }

    [Fact]
    public void An_unreachable_registry_is_a_problem_in_words_with_the_way_to_the_models()
    {
        Registry.Down();

        var page = Render<Home>();

        page.WaitForAssertion(() => Assert.Contains("could not be reached", Text(page.Find("[role=alert]")), StringComparison.Ordinal));
        Assert.Equal("/models", page.Find("[role=alert] a").GetAttribute("href"));
        Assert.DoesNotContain("registry.internal", page.Markup, StringComparison.Ordinal);
    }
}
