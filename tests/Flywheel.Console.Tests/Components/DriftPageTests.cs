using System.Globalization;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Flywheel.Console.Tests.Components;

public sealed class DriftPageTests : ConsoleTest
{
    private const string Reports = "/api/models/card-fraud/drift?limit=20";

    private static readonly string AmountHistogram = CannedServing.Histogram("""["[0, 100)", "[100, 200)", "[200, 300]"]""", "[0.5, 0.3, 0.2]", "[0.1, 0.1, 0.8]");

    private IRenderedComponent<DriftPage> RenderPage(string? report = null)
    {
        Services.GetRequiredService<NavigationManager>().NavigateTo(report is null ? "/models/card-fraud/drift" : $"/models/card-fraud/drift?report={report}");
        return Render<DriftPage>(p => p.Add(x => x.Name, "card-fraud"));
    }

    private void CannedReports() => Registry.Json(Reports, CannedServing.Reports(
        CannedServing.Report(CannedServing.ReportNew, "2026-01-04T11:00:00+00:00",
            $"[{CannedServing.Feature("amount", drifted: true, histogram: AmountHistogram)}, {CannedServing.Feature("email", false, test: null, skipped: "PII: only presence is checked")}]",
            drifted: true, CannedServing.Performance(0.81, 0.77, 0.85)),
        CannedServing.Report(CannedServing.ReportOld, "2026-01-04T10:00:00+00:00",
            $"[{CannedServing.Feature("amount", false)}, {CannedServing.Feature("email", false, test: null, missingDrifted: true)}]",
            drifted: false, CannedServing.Performance(0.88, 0.84, 0.92))));

    [Fact]
    public void The_grid_marks_each_feature_in_each_report_newest_first()
    {
        CannedReports();

        var page = RenderPage();

        page.WaitForElement("table.drift-grid");
        Assert.Equal(["Feature", "01-04 11:00", "01-04 10:00"], page.FindAll("table.drift-grid thead th").Select(Text));
        // What a screen reader says per cell; the symbols beside it are hidden from it.
        var rows = page.FindAll("table.drift-grid tbody tr")
            .Select(r => r.Children.Select(c => c.QuerySelector(".visually-hidden") is { } said ? Text(said) : Text(c)).ToList())
            .ToList();
        Assert.Equal(["amount", "drifted", "stable"], rows[0]);
        Assert.Equal(["email", "not tested", "drifted"], rows[1]);
        Assert.Equal(["Dataset drift", "drifted", "stable"], rows[2]);
        Assert.Equal(["●", "○"], page.FindAll("table.drift-grid tbody tr")[0].QuerySelectorAll("[aria-hidden=true]").Select(Text));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public void The_newest_report_shows_each_feature_s_reference_and_current_histogram_on_one_scale()
    {
        CannedReports();

        var page = RenderPage();

        page.WaitForElement("article.feature");
        var amount = page.Find("article.feature[aria-labelledby=feature-amount]");
        Assert.Contains("KS 0.31 vs 0.05, p = 0.001", Text(amount), StringComparison.Ordinal);
        Assert.Contains("drifted: distribution", Text(amount), StringComparison.Ordinal);
        Assert.Contains("feature-drifted", amount.ClassList);
        // Drawn by Radzen, both sides on one axis; named in words for readers who cannot see it.
        page.WaitForAssertion(() => Assert.NotNull(amount.QuerySelector("figure.histogram .rz-chart svg")));
        Assert.Equal(2, page.Find("article.feature[aria-labelledby=feature-amount]").QuerySelectorAll("figure.histogram .rz-column-series").Length);
        Assert.Equal("amount: reference and current share per bin; [0, 100) 50% vs 10%; [100, 200) 30% vs 10%; [200, 300] 20% vs 80%",
            amount.QuerySelector("figure.histogram [role=img]")!.GetAttribute("aria-label"));
        Assert.Equal(["[0, 100) 50% 10%", "[100, 200) 30% 10%", "[200, 300] 20% 80%"], amount.QuerySelectorAll("table.histogram-table tbody tr").Select(r => string.Join(" ", Cells(r))));
        var email = page.Find("article.feature[aria-labelledby=feature-email]");
        Assert.Contains("Not tested: PII: only presence is checked", Text(email), StringComparison.Ordinal);
        Assert.Contains("No histogram", Text(email), StringComparison.Ordinal);
        Assert.Contains("Wasserstein 0.22 against threshold 0.1: drifted", Text(page.Find("section.report")), StringComparison.Ordinal);
        Assert.Contains("0.81 (95% interval 0.77 to 0.85) on 120 labelled rows", Text(page.Find("section.report dl")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_report_chosen_in_the_grid_is_the_one_shown_and_the_live_metric_trend_has_a_point_per_report()
    {
        CannedReports();

        var page = RenderPage(CannedServing.ReportOld);

        page.WaitForElement("section.report");
        Assert.Equal("Report of 2026-01-04 10:00:00 UTC", Text(page.Find("#report-heading")));
        Assert.Equal("true", page.Find($"table.drift-grid thead a[href='/models/card-fraud/drift?report={CannedServing.ReportOld}']").GetAttribute("aria-current"));
        Assert.Contains("drifted: missing rate", Text(page.Find("article.feature[aria-labelledby=feature-email]")), StringComparison.Ordinal);
        page.WaitForAssertion(() => Assert.NotEmpty(page.FindAll("figure.trend .rz-chart svg")));
        // The value, the interval's two bounds and the held-out value, each a Radzen line.
        Assert.Equal(4, page.FindAll("figure.trend .rz-line-series").Count);
        Assert.StartsWith("Live auc over 2 reports, between", page.Find("figure.trend [role=img]").GetAttribute("aria-label"), StringComparison.Ordinal);
        // The value axis reads as the tables do (0.88, not 0.8799999999), and no legend crowds the small chart.
        var ticks = page.FindAll("figure.trend .rz-value-axis text").Select(Text).Where(t => t.Length > 0).ToList();
        Assert.NotEmpty(ticks);
        Assert.All(ticks, tick => Assert.True(tick.Length <= 6, $"an unformatted axis label: {tick}"));
        Assert.Empty(page.FindAll("figure.trend .rz-legend"));
        Assert.Equal(["2026-01-04 10:00:00 UTC v1 0.88 0.84 to 0.92 0.9 120", "2026-01-04 11:00:00 UTC v1 0.81 0.77 to 0.85 0.9 120"],
            page.FindAll("table.trend-table tbody tr").Select(r => string.Join(" ", Cells(r))));
        Assert.Equal(1, Registry.Count(Reports));
    }

    [Fact]
    public void A_model_without_reports_says_how_to_get_one()
    {
        Registry.Json(Reports, CannedServing.Reports());

        var page = RenderPage();

        page.WaitForAssertion(() => Assert.Contains("No drift reports yet", Text(page.Find(".empty")), StringComparison.Ordinal));
        Assert.Empty(page.FindAll("table"));
    }
}
