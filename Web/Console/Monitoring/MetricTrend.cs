using Flywheel.Console.Platform;

namespace Flywheel.Console.Monitoring;

/// <summary>One report's live metric: the value, its interval where 30 or more rows were labelled, and the held-out value.</summary>
public sealed record MetricPoint(Guid ReportId, DateTimeOffset At, int Version, double Value, double? Low, double? High, double? Training, long Labelled, bool Degraded);

/// <summary>The live metric over time, oldest first, with the range a chart's value axis must cover (interval and held-out value included).</summary>
public sealed record MetricTrendView(string Metric, IReadOnlyList<MetricPoint> Points, double Min, double Max);

public static class MetricTrend
{
    /// <summary>
    /// The reports that measured the live metric, oldest first. Only the newest report's metric is
    /// kept (AUC and accuracy do not share an axis); null when no report has one.
    /// </summary>
    public static MetricTrendView? Build(IReadOnlyList<DriftReportView> reports)
    {
        var measured = reports.Where(r => r.Performance is not null).OrderBy(r => r.CreatedAt).ToList();
        if (measured.Count == 0)
        {
            return null;
        }

        var metric = measured[^1].Performance!.Metric;
        var points = measured.Where(r => r.Performance!.Metric == metric)
            .Select(r => new MetricPoint(r.ReportId, r.CreatedAt, r.Version, r.Performance!.Value, r.Performance.CiLow, r.Performance.CiHigh,
                r.Performance.TrainingValue, r.Performance.LabelledRows, r.Performance.Degraded))
            .ToList();
        var values = points.SelectMany(p => new[] { p.Value, p.Low, p.High, p.Training }).OfType<double>().Where(double.IsFinite).ToList();
        var (min, max) = (values.Min(), values.Max());
        if (max - min < 1e-9)
        {
            // A flat line still needs an axis with some height.
            (min, max) = (min - 0.05, max + 0.05);
        }

        return new MetricTrendView(metric, points, min, max);
    }
}
