namespace Flywheel.Console.Platform;

// The registry's overview (docs/serving.md, "Overview"): every model's serving state, its traffic
// over a window, a per-minute series of the last half hour, and its latest drift verdict and live metric.

public sealed record OverviewView(DateTimeOffset At, int WindowSeconds, int SeriesMinutes, IReadOnlyList<ModelOverviewView> Models);

/// <param name="Deployment">Null while the model is not deployed.</param>
public sealed record ModelOverviewView(
    string Name,
    string Task,
    DeploymentSplitView? Deployment,
    TrafficStatsView Traffic,
    IReadOnlyList<VersionTrafficView> Versions,
    IReadOnlyList<MinutePointView> Series,
    DriftVerdictView? Drift,
    LiveMetricView? LiveMetric);

public sealed record DeploymentSplitView(long Revision, int Production, double ProductionPercent, VersionShareView? Canary, VersionShareView? Shadow, DateTimeOffset UpdatedAt);

public sealed record VersionShareView(int Version, double Percent);

/// <param name="ErrorRate">Failed rows over answered and failed rows; null when there were neither.</param>
public sealed record TrafficStatsView(long Requests, double RatePerSecond, long Errors, double? ErrorRate, double? P50Ms, double? P95Ms);

public sealed record VersionTrafficView(int Version, long Requests, double RatePerSecond, long Errors, double? ErrorRate, double? P50Ms, double? P95Ms);

public sealed record MinutePointView(DateTimeOffset Minute, long Requests, long Errors, double? P95Ms);

public sealed record DriftVerdictView(Guid ReportId, int Version, bool Drifted, int FeaturesDrifted, int Features, DateTimeOffset At);

public sealed record LiveMetricView(Guid ReportId, int Version, string Metric, double Value, double? CiLow, double? CiHigh, double Confidence, long LabelledRows, bool Degraded, DateTimeOffset At);
