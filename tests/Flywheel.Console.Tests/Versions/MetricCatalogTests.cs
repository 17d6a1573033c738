using Flywheel.Console.Versions;

namespace Flywheel.Console.Tests.Versions;

public sealed class MetricCatalogTests
{
    [Theory]
    [InlineData("binary", new[] { "auc", "log_loss", "accuracy", "f1" })]
    [InlineData("multiclass", new[] { "accuracy", "macro_f1", "log_loss" })]
    [InlineData("regression", new[] { "rmse", "mae", "r2" })]
    [InlineData("ranking", new string[0])]
    [InlineData(null, new string[0])]
    public void Each_task_has_its_headline_metrics(string? task, string[] expected) =>
        Assert.Equal(expected, MetricCatalog.Headline(task));

    [Theory]
    [InlineData("auc", "AUC", MetricDirection.HigherIsBetter)]
    [InlineData("log_loss", "Log loss", MetricDirection.LowerIsBetter)]
    [InlineData("r2", "R²", MetricDirection.HigherIsBetter)]
    [InlineData("rmse", "RMSE", MetricDirection.LowerIsBetter)]
    [InlineData("ece", "Calibration error (ECE)", MetricDirection.LowerIsBetter)]
    [InlineData("rows", "Held-out rows", MetricDirection.Neutral)]
    [InlineData("threshold", "Threshold", MetricDirection.Neutral)]
    [InlineData("pr_auc", "Pr auc", MetricDirection.Neutral)]
    public void Metrics_have_a_label_and_a_better_direction(string key, string label, MetricDirection direction)
    {
        var info = MetricCatalog.Describe(key);

        Assert.Equal(label, info.Label);
        Assert.Equal(direction, info.Direction);
    }

    [Fact]
    public void Binary_metrics_are_ordered_headline_first_then_known_then_unknown_by_name()
    {
        string[] reported = ["rows", "zeta", "f1", "brier", "accuracy", "alpha", "auc", "positives", "log_loss", "precision"];

        Assert.Equal(
            ["auc", "log_loss", "accuracy", "f1", "precision", "brier", "rows", "positives", "alpha", "zeta"],
            MetricCatalog.Order("binary", reported));
    }

    [Fact]
    public void Regression_metrics_put_rmse_mae_and_r2_first() =>
        Assert.Equal(["rmse", "mae", "r2", "mean_actual", "rows"], MetricCatalog.Order("regression", ["rows", "r2", "mean_actual", "mae", "rmse"]));

    [Fact]
    public void Ordering_drops_repeated_keys() =>
        Assert.Equal(["accuracy"], MetricCatalog.Order("multiclass", ["accuracy", "accuracy"]));

    [Fact]
    public void A_versions_table_shows_the_headline_metrics_some_version_reports()
    {
        IReadOnlyDictionary<string, double>[] versions =
        [
            new Dictionary<string, double> { ["log_loss"] = 0.3, ["accuracy"] = 0.9, ["rows"] = 200 },
            new Dictionary<string, double> { ["auc"] = 0.95, ["log_loss"] = 0.2 },
        ];

        Assert.Equal(["auc", "log_loss", "accuracy"], MetricCatalog.Columns("binary", versions));
    }

    [Fact]
    public void Without_headline_metrics_the_table_shows_up_to_four_quality_metrics_not_counts()
    {
        IReadOnlyDictionary<string, double>[] versions =
        [
            new Dictionary<string, double> { ["rows"] = 10, ["recall"] = 0.5, ["precision"] = 0.6, ["brier"] = 0.1, ["ece"] = 0.02, ["mae"] = 3 },
        ];

        Assert.Equal(["precision", "recall", "brier", "ece"], MetricCatalog.Columns("unknown-task", versions));
    }

    [Fact]
    public void No_versions_means_no_metric_columns() => Assert.Empty(MetricCatalog.Columns("binary", []));
}
