namespace Flywheel.Console.Platform;

// The drift monitor's reports (docs/monitoring.md), as it stores and returns them.

public sealed record DriftReportList(string Model, IReadOnlyList<DriftReportView> Reports);

public sealed record DriftReportView(
    Guid ReportId,
    string Model,
    int Version,
    string Trigger,
    DateTimeOffset CreatedAt,
    ReportWindowView Window,
    bool Drifted,
    double DriftedShare,
    IReadOnlyList<FeatureDriftView> Features,
    PredictionDriftView? Prediction,
    LivePerformanceView? Performance,
    bool PerformanceDegraded);

public sealed record ReportWindowView(string Kind, DateTimeOffset From, DateTimeOffset To, long Rows);

/// <summary>One feature's drift; the test and its numbers are null when none ran (<see cref="Skipped"/> says why).</summary>
public sealed record FeatureDriftView(
    string Name,
    string? Test,
    double? Statistic,
    double? PValue,
    double? Threshold,
    bool Drifted,
    double ReferenceMissingRate,
    double MissingRate,
    bool MissingRateDrifted,
    double OutOfRangeRate,
    bool OutOfRangeDrifted,
    HistogramView? Histogram,
    long Values,
    string? Skipped);

/// <summary>Reference and window shares over the same bins (each side sums to 1, or is all 0 without values).</summary>
public sealed record HistogramView(IReadOnlyList<string> Bins, IReadOnlyList<double> Reference, IReadOnlyList<double> Current);

public sealed record PredictionDriftView(string Test, double Statistic, double? PValue, double Threshold, bool Drifted, HistogramView? Histogram, long Values);

public sealed record LivePerformanceView(
    string Metric, double Value, double? CiLow, double? CiHigh, long LabelledRows, double Confidence, double? TrainingValue, bool Degraded);
