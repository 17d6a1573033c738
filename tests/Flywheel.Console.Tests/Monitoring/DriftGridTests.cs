using Flywheel.Console.Monitoring;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Tests.Monitoring;

public sealed class DriftGridTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 4, 10, 0, 0, TimeSpan.Zero);

    private static FeatureDriftView Feature(string name, bool drifted = false, string? test = "ks", bool missing = false, bool range = false) =>
        new(name, test, 0.1, 0.2, 0.05, drifted, 0, 0, missing, 0, range, null, 10, test is null ? "PII" : null);

    private static DriftReportView Report(int minutes, params FeatureDriftView[] features) =>
        new(Guid.NewGuid(), "card-fraud", 1, "scheduled", Start.AddMinutes(minutes), new ReportWindowView("time", Start, Start, 10),
            false, 0, features, null, null, false);

    [Fact]
    public void Reports_are_columns_newest_first_and_each_feature_is_marked_per_report()
    {
        var old = Report(0, Feature("amount"), Feature("email", test: null), Feature("country"));
        var middle = Report(5, Feature("amount", missing: true), Feature("email", test: null));
        var newest = Report(10, Feature("amount", drifted: true), Feature("email", test: null), Feature("merchant", range: true));

        var grid = DriftGrid.Build([old, newest, middle]);

        Assert.Equal([newest.ReportId, middle.ReportId, old.ReportId], grid.Reports.Select(r => r.ReportId));
        Assert.Equal(["amount", "email", "merchant", "country"], grid.Rows.Select(r => r.Feature));
        Assert.Equal([DriftMark.Drifted, DriftMark.Drifted, DriftMark.Stable], grid.Rows[0].Marks);
        Assert.Equal([DriftMark.Skipped, DriftMark.Skipped, DriftMark.Skipped], grid.Rows[1].Marks);
        Assert.Equal([DriftMark.Drifted, DriftMark.Absent, DriftMark.Absent], grid.Rows[2].Marks);
        Assert.Equal([DriftMark.Absent, DriftMark.Absent, DriftMark.Stable], grid.Rows[3].Marks);
    }

    [Theory]
    [InlineData("kolmogorov_smirnov", "KS")]
    [InlineData("chi_squared", "Chi-squared")]
    [InlineData("jensen_shannon", "Jensen-Shannon")]
    [InlineData("psi", "PSI")]
    [InlineData("some_new_test", "Some new test")]
    public void Tests_go_by_their_usual_names(string test, string label) => Assert.Equal(label, DriftGrid.TestLabel(test));

    [Fact]
    public void The_reasons_name_every_check_that_drifted()
    {
        Assert.Equal(["distribution", "missing rate", "out of range"], DriftGrid.Reasons(Feature("a", drifted: true, missing: true, range: true)));
        Assert.Empty(DriftGrid.Reasons(Feature("a")));
    }

    [Fact]
    public void The_live_metric_trend_runs_oldest_first_and_its_axis_covers_every_interval_and_the_held_out_value()
    {
        var reports = new[]
        {
            Report(10) with { Performance = new LivePerformanceView("auc", 0.8, 0.75, 0.86, 100, 0.95, 0.9, false) },
            Report(0) with { Performance = new LivePerformanceView("auc", 0.7, 0.6, 0.8, 100, 0.95, 0.9, true) },
            Report(5),
        };

        var trend = MetricTrend.Build(reports)!;

        Assert.Equal("auc", trend.Metric);
        Assert.Equal([0.7, 0.8], trend.Points.Select(p => p.Value));
        Assert.True(trend.Points[0].Degraded);
        Assert.Equal((0.6, 0.9), (trend.Min, trend.Max));
        Assert.Null(MetricTrend.Build([Report(0)]));
    }
}
