namespace Flywheel.Core.Monitoring;

/// <summary>
/// One live metric of a model version from the predictions whose labels came back, with a
/// two-sided confidence interval. Every number is finite, so the record serialises as plain JSON.
/// </summary>
/// <param name="Metric">
/// The snake_case key the version's training metrics use for the same quantity (<c>auc</c>,
/// <c>accuracy</c>, <c>f1</c>, <c>macro_f1</c>, <c>rmse</c>, <c>mae</c>), so the two can be compared.
/// </param>
/// <param name="CiLow">Lower bound; null with fewer than <see cref="LivePerformance.MinimumLabelledRows"/> rows.</param>
/// <param name="CiHigh">Upper bound; null whenever <paramref name="CiLow"/> is.</param>
/// <param name="Confidence">The interval's nominal coverage, e.g. 0.95.</param>
public sealed record PerformanceEstimate(string Metric, double Value, double? CiLow, double? CiHigh, long LabelledRows, double Confidence);
