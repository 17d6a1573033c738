namespace Flywheel.Contracts.Monitoring;

// Events of the drift and performance monitor. MassTransit matches them by namespace and type
// name, so renaming or moving one is a breaking change for every service that reads the queue.
// One episode makes one event: the monitor holds back repeats within the model's cooldown.

/// <summary>A window of a serving version's traffic drifted from the version's reference profile.</summary>
/// <param name="ReportId">The stored report (<c>GET /api/models/{model}/drift</c>) that found it.</param>
/// <param name="DriftedFeatures">The features whose test crossed its threshold, in schema order.</param>
public sealed record DriftDetected(
    Guid ReportId,
    string Model,
    int Version,
    DateTimeOffset WindowFrom,
    DateTimeOffset WindowTo,
    long Rows,
    double DriftedShare,
    IReadOnlyList<string> DriftedFeatures,
    bool PredictionDrifted,
    DateTimeOffset DetectedAt);

/// <summary>
/// The live metric of a serving version, from the labels that came back, is worse than the
/// version's own held-out metric by more than the model's tolerance, beyond its confidence interval.
/// </summary>
public sealed record PerformanceDegraded(
    Guid ReportId,
    string Model,
    int Version,
    string Metric,
    double Value,
    double? CiLow,
    double? CiHigh,
    double TrainingValue,
    long LabelledRows,
    DateTimeOffset DetectedAt);
