using System.Text.Json;
using Flywheel.Core.Drift;
using Flywheel.Core.Monitoring;
using Flywheel.DriftMonitor.Monitoring;

namespace Flywheel.DriftMonitor.Reports;

public static class ReportTriggers
{
    public const string Scheduled = "scheduled";
    public const string Manual = "manual";
}

/// <summary>
/// One evaluated window of a serving version (API.md, "Monitoring"): the drift of each feature and
/// of the scores against the version's reference profile, and the live metric where labels came
/// back. Stored as jsonb in <c>monitoring.reports</c> and returned as stored.
/// </summary>
/// <param name="Events">The events this report published (scheduled reports that opened an episode or outlasted its cooldown).</param>
public sealed record MonitoringReport(
    Guid ReportId,
    string Model,
    int Version,
    string Trigger,
    DateTimeOffset CreatedAt,
    ReportWindow Window,
    bool Drifted,
    double DriftedShare,
    IReadOnlyList<FeatureDrift> Features,
    PredictionDrift? Prediction,
    LivePerformanceReport? Performance,
    bool PerformanceDegraded,
    IReadOnlyList<string> Events);

/// <param name="From">The earliest prediction time the window takes (inclusive).</param>
/// <param name="To">The latest (inclusive).</param>
public sealed record ReportWindow(WindowKind Kind, DateTimeOffset From, DateTimeOffset To, long Rows);

/// <summary>
/// The primary live metric (AUC, else accuracy; accuracy for multiclass; RMSE for regression) with
/// its interval, the version's held-out value of the same metric, and every live metric computed.
/// </summary>
public sealed record LivePerformanceReport(
    string Metric,
    double Value,
    double? CiLow,
    double? CiHigh,
    long LabelledRows,
    double Confidence,
    double? TrainingValue,
    bool Degraded,
    IReadOnlyList<PerformanceEstimate> Metrics);

/// <summary>A page of reports, newest first, each as stored.</summary>
public sealed record ReportList(string Model, IReadOnlyList<JsonElement> Reports);
