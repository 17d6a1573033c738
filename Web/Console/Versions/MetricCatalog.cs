using Flywheel.Console.Display;

namespace Flywheel.Console.Versions;

public enum MetricDirection
{
    /// <summary>A count or a setting (rows, threshold): a change is neither better nor worse.</summary>
    Neutral,
    HigherIsBetter,
    LowerIsBetter,
}

public sealed record MetricInfo(string Key, string Label, MetricDirection Direction);

/// <summary>
/// The metrics trainers report (Flywheel.Core.Evaluation), their labels, which way is better,
/// and the order to show them in: the task's headline metrics first, then the rest of the known
/// ones, then any the console does not know, by name.
/// </summary>
public static class MetricCatalog
{
    private static readonly MetricInfo[] Known =
    [
        new("auc", "AUC", MetricDirection.HigherIsBetter),
        new("log_loss", "Log loss", MetricDirection.LowerIsBetter),
        new("accuracy", "Accuracy", MetricDirection.HigherIsBetter),
        new("f1", "F1", MetricDirection.HigherIsBetter),
        new("macro_f1", "Macro F1", MetricDirection.HigherIsBetter),
        new("precision", "Precision", MetricDirection.HigherIsBetter),
        new("recall", "Recall", MetricDirection.HigherIsBetter),
        new("brier", "Brier score", MetricDirection.LowerIsBetter),
        new("ece", "Calibration error (ECE)", MetricDirection.LowerIsBetter),
        new("rmse", "RMSE", MetricDirection.LowerIsBetter),
        new("mae", "MAE", MetricDirection.LowerIsBetter),
        new("r2", "R²", MetricDirection.HigherIsBetter),
        new("mean_actual", "Mean actual", MetricDirection.Neutral),
        new("threshold", "Threshold", MetricDirection.Neutral),
        new("rows", "Held-out rows", MetricDirection.Neutral),
        new("positives", "Positives", MetricDirection.Neutral),
        new("classes", "Classes", MetricDirection.Neutral),
        new("unseen_class_rows", "Rows of unseen classes", MetricDirection.Neutral),
    ];

    private static readonly Dictionary<string, int> Rank =
        Known.Select((metric, index) => (metric.Key, index)).ToDictionary(p => p.Key, p => p.index, StringComparer.Ordinal);

    /// <summary>The metrics that summarise a version of a model of this task (binary, multiclass or regression).</summary>
    public static IReadOnlyList<string> Headline(string? task) => task switch
    {
        "binary" => ["auc", "log_loss", "accuracy", "f1"],
        "multiclass" => ["accuracy", "macro_f1", "log_loss"],
        "regression" => ["rmse", "mae", "r2"],
        _ => [],
    };

    public static MetricInfo Describe(string key) =>
        Rank.TryGetValue(key, out var index) ? Known[index] : new(key, Format.Humanize(key), MetricDirection.Neutral);

    /// <summary>Headline metrics first (in their order), then known metrics in catalog order, then unknown ones by name.</summary>
    public static IReadOnlyList<string> Order(string? task, IEnumerable<string> keys)
    {
        var headline = Headline(task).ToList();
        return [.. keys.Distinct(StringComparer.Ordinal)
            .OrderBy(key => headline.IndexOf(key) is var i and >= 0 ? i : int.MaxValue)
            .ThenBy(key => Rank.TryGetValue(key, out var rank) ? rank : int.MaxValue)
            .ThenBy(key => key, StringComparer.Ordinal)];
    }

    /// <summary>
    /// The columns of a versions table: the task's headline metrics that at least one version
    /// reports. When none does (an unknown task, or a trainer reporting other names), the first
    /// four quality metrics any version has, so the table still says something.
    /// </summary>
    public static IReadOnlyList<string> Columns(string? task, IEnumerable<IReadOnlyDictionary<string, double>> metrics)
    {
        var present = metrics.SelectMany(m => m.Keys).ToHashSet(StringComparer.Ordinal);
        var headline = Headline(task).Where(present.Contains).ToList();
        return headline.Count > 0
            ? headline
            : [.. Order(task, present).Where(key => Describe(key).Direction != MetricDirection.Neutral).Take(4)];
    }
}
