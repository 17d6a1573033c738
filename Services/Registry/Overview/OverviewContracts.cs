namespace Flywheel.Registry.Overview;

/// <summary>
/// Every model at a glance (API.md, "Overview"): how it serves, how its traffic went over the
/// window, a per-minute series of the last half hour, and its latest drift verdict and live metric.
/// </summary>
/// <param name="WindowSeconds">The window the traffic figures cover, ending at <paramref name="At"/>.</param>
public sealed record OverviewResponse(DateTimeOffset At, int WindowSeconds, int SeriesMinutes, IReadOnlyList<ModelOverview> Models);

/// <param name="Deployment">Null when the model is not deployed.</param>
/// <param name="Traffic">All versions together; answered requests only (shadow scoring is not an answer).</param>
/// <param name="Versions">Each version that answered or failed in the window, by version.</param>
/// <param name="Series">One point per minute, oldest first, the current (partial) minute last.</param>
/// <param name="Drift">The latest drift report's verdict; null before the first report.</param>
/// <param name="LiveMetric">The latest measured live metric; null until labels came back.</param>
public sealed record ModelOverview(
    string Name,
    string Task,
    DeploymentSplit? Deployment,
    TrafficStats Traffic,
    IReadOnlyList<VersionTraffic> Versions,
    IReadOnlyList<MinutePoint> Series,
    DriftVerdict? Drift,
    LiveMetric? LiveMetric);

/// <param name="ProductionPercent">The share of answered traffic production takes: 100 less the canary's.</param>
public sealed record DeploymentSplit(long Revision, int Production, double ProductionPercent, VersionShare? Canary, VersionShare? Shadow, DateTimeOffset UpdatedAt);

public sealed record VersionShare(int Version, double Percent);

/// <param name="Requests">Rows answered (the prediction log's unit: one per scored instance).</param>
/// <param name="Errors">Rows that failed (<c>inference.prediction_errors</c>).</param>
/// <param name="ErrorRate">Errors over requests and errors; null when there were neither.</param>
/// <param name="P50Ms">Median latency of the answered rows in milliseconds; null without any.</param>
public sealed record TrafficStats(long Requests, double RatePerSecond, long Errors, double? ErrorRate, double? P50Ms, double? P95Ms);

public sealed record VersionTraffic(int Version, long Requests, double RatePerSecond, long Errors, double? ErrorRate, double? P50Ms, double? P95Ms);

/// <param name="Minute">The minute's start (UTC).</param>
public sealed record MinutePoint(DateTimeOffset Minute, long Requests, long Errors, double? P95Ms);

/// <param name="FeaturesDrifted">Features whose distribution, missing rate or out-of-range rate drifted.</param>
public sealed record DriftVerdict(Guid ReportId, int Version, bool Drifted, int FeaturesDrifted, int Features, DateTimeOffset At);

/// <param name="CiLow">The interval's bounds; null when too few rows were labelled for one.</param>
public sealed record LiveMetric(Guid ReportId, int Version, string Metric, double Value, double? CiLow, double? CiHigh, double Confidence, long LabelledRows, bool Degraded, DateTimeOffset At);
