using Flywheel.Console.Versions;

namespace Flywheel.Console.Tests.Versions;

public sealed class VersionComparisonTests
{
    private static Dictionary<string, double> Metrics(params (string Key, double Value)[] metrics) =>
        metrics.ToDictionary(m => m.Key, m => m.Value);

    private static MetricComparison Row(IReadOnlyList<MetricComparison> rows, string key) => Assert.Single(rows, r => r.Key == key);

    [Fact]
    public void A_higher_auc_and_a_lower_log_loss_are_both_better()
    {
        var rows = VersionComparison.Compare("binary", Metrics(("auc", 0.93), ("log_loss", 0.25)), Metrics(("auc", 0.91), ("log_loss", 0.30)));

        var auc = Row(rows, "auc");
        Assert.Equal(MetricChange.Better, auc.Change);
        Assert.Equal(0.02, auc.Delta!.Value, 12);
        Assert.Equal(0.91, auc.Previous);
        Assert.Equal(0.93, auc.Current);
        var logLoss = Row(rows, "log_loss");
        Assert.Equal(MetricChange.Better, logLoss.Change);
        Assert.Equal(-0.05, logLoss.Delta!.Value, 12);
    }

    [Fact]
    public void A_lower_r2_and_a_higher_rmse_are_both_worse()
    {
        var rows = VersionComparison.Compare("regression", Metrics(("r2", 0.7), ("rmse", 12)), Metrics(("r2", 0.8), ("rmse", 10)));

        Assert.Equal(MetricChange.Worse, Row(rows, "r2").Change);
        Assert.Equal(MetricChange.Worse, Row(rows, "rmse").Change);
    }

    [Fact]
    public void An_equal_value_is_unchanged_and_a_moved_count_is_only_changed()
    {
        var rows = VersionComparison.Compare("binary", Metrics(("accuracy", 0.9), ("rows", 250)), Metrics(("accuracy", 0.9), ("rows", 200)));

        Assert.Equal(MetricChange.Unchanged, Row(rows, "accuracy").Change);
        Assert.Equal(0, Row(rows, "accuracy").Delta);
        Assert.Equal(MetricChange.Changed, Row(rows, "rows").Change);
        Assert.Equal(50, Row(rows, "rows").Delta);
    }

    [Fact]
    public void The_first_version_has_only_new_metrics_without_deltas()
    {
        var rows = VersionComparison.Compare("binary", Metrics(("auc", 0.9), ("f1", 0.5)), previous: null);

        Assert.All(rows, row =>
        {
            Assert.Equal(MetricChange.New, row.Change);
            Assert.Null(row.Delta);
            Assert.Null(row.Previous);
        });
        Assert.Equal(["auc", "f1"], rows.Select(r => r.Key));
    }

    [Fact]
    public void A_metric_only_one_side_reports_is_new_or_dropped()
    {
        var rows = VersionComparison.Compare("binary", Metrics(("auc", 0.9)), Metrics(("log_loss", 0.3)));

        Assert.Equal(MetricChange.New, Row(rows, "auc").Change);
        var dropped = Row(rows, "log_loss");
        Assert.Equal(MetricChange.Dropped, dropped.Change);
        Assert.Null(dropped.Current);
        Assert.Equal(0.3, dropped.Previous);
    }

    [Fact]
    public void A_nan_on_either_side_is_not_compared()
    {
        var rows = VersionComparison.Compare("binary", Metrics(("auc", double.NaN), ("f1", 0.5)), Metrics(("auc", 0.9), ("f1", double.PositiveInfinity)));

        Assert.Equal(MetricChange.NotComparable, Row(rows, "auc").Change);
        Assert.Null(Row(rows, "auc").Delta);
        Assert.Equal(MetricChange.NotComparable, Row(rows, "f1").Change);
    }

    [Fact]
    public void The_comparison_follows_the_catalog_order_over_both_versions_keys()
    {
        var rows = VersionComparison.Compare("multiclass", Metrics(("rows", 10), ("log_loss", 0.4)), Metrics(("macro_f1", 0.6), ("accuracy", 0.7)));

        Assert.Equal(["accuracy", "macro_f1", "log_loss", "rows"], rows.Select(r => r.Key));
    }

    [Fact]
    public void A_change_is_described_in_words()
    {
        Assert.Equal("better", VersionComparison.Describe(MetricChange.Better));
        Assert.Equal("worse", VersionComparison.Describe(MetricChange.Worse));
        Assert.Equal("unchanged", VersionComparison.Describe(MetricChange.Unchanged));
        Assert.Equal("changed", VersionComparison.Describe(MetricChange.Changed));
        Assert.Equal("new", VersionComparison.Describe(MetricChange.New));
        Assert.Equal("no longer reported", VersionComparison.Describe(MetricChange.Dropped));
        Assert.Equal("not comparable", VersionComparison.Describe(MetricChange.NotComparable));
    }

    [Theory]
    [InlineData(3, new[] { 1, 2, 3, 4 }, 2)]
    [InlineData(5, new[] { 5, 3, 1 }, 3)]
    [InlineData(1, new[] { 1, 2 }, null)]
    [InlineData(2, new int[0], null)]
    public void The_previous_version_is_the_newest_older_one_listed(int version, int[] listed, int? expected) =>
        Assert.Equal(expected, VersionComparison.PreviousOf(version, listed));
}
