namespace Flywheel.Core.Drift;

/// <summary>
/// One window compared with a version's reference profile. Plain records of finite numbers, so a
/// report serialises as JSON (stored as jsonb, returned by the API); what could not be computed is
/// null, never NaN.
/// </summary>
/// <param name="Rows">Predictions in the window.</param>
/// <param name="Drifted">Dataset drift: at least the policy's share of the tested features drifted.</param>
/// <param name="DriftedShare">Drifted features / tested features (0 when none could be tested).</param>
/// <param name="Features">One entry per schema feature, in schema order, PII features included.</param>
/// <param name="Prediction">The scores compared with the reference's; null when the window or the reference has none.</param>
public sealed record DriftReport(
    long Rows,
    bool Drifted,
    double DriftedShare,
    IReadOnlyList<FeatureDrift> Features,
    PredictionDrift? Prediction);

/// <summary>
/// One feature's drift. <see cref="Test"/>, <see cref="Statistic"/> and <see cref="Threshold"/> are
/// null when no distribution test ran (see <see cref="Skipped"/>: a PII feature, no present values
/// in the window or in the reference); the missing-rate check runs for every feature.
/// </summary>
/// <param name="Statistic">The KS distance, chi-squared statistic, normalised Wasserstein, Jensen-Shannon distance or PSI.</param>
/// <param name="PValue">For the p-value tests (KS, chi-squared); null for the distances.</param>
/// <param name="Drifted">Distribution drift by the test and threshold (p below it, or a distance at or above it).</param>
/// <param name="ReferenceMissingRate">Missing values / rows in the reference.</param>
/// <param name="MissingRate">Missing values / rows in the window (0 for an empty window).</param>
/// <param name="MissingRateDrifted">The missing rate rose above the reference's by more than the policy allows.</param>
/// <param name="OutOfRangeRate">
/// The share of the window's present values outside the reference: below its minimum or above its
/// maximum for a number; outside its categories for a category, known only when the reference kept
/// all of its categories (none fell into "other"), and 0 otherwise.
/// </param>
/// <param name="OutOfRangeDrifted">The out-of-range rate exceeded the policy's.</param>
/// <param name="Histogram">Reference and window shares over the reference's bins or categories, for charts.</param>
/// <param name="Values">Present values of the feature in the window.</param>
/// <param name="Skipped">Why no distribution test ran; null when one did.</param>
public sealed record FeatureDrift(
    string Name,
    DriftTest? Test,
    double? Statistic,
    double? PValue,
    double? Threshold,
    bool Drifted,
    double ReferenceMissingRate,
    double MissingRate,
    bool MissingRateDrifted,
    double OutOfRangeRate,
    bool OutOfRangeDrifted,
    FeatureHistogram Histogram,
    long Values,
    string? Skipped);

/// <summary>
/// Shares of the reference and of the window over the same bins: numeric bins labelled by their
/// edges ("[a, b)", the last "[a, b]"), categories by value plus <see cref="OtherBin"/> for the
/// reference's rarer categories and values it never saw. Each side sums to 1, or is all 0 when it
/// has no values.
/// </summary>
public sealed record FeatureHistogram(IReadOnlyList<string> Bins, IReadOnlyList<double> Reference, IReadOnlyList<double> Current)
{
    public const string OtherBin = "(other)";

    public static FeatureHistogram Empty { get; } = new([], [], []);
}

/// <summary>The prediction scores' drift, by the same rules as a numeric feature.</summary>
/// <param name="Values">Scores in the window.</param>
public sealed record PredictionDrift(
    DriftTest Test,
    double Statistic,
    double? PValue,
    double Threshold,
    bool Drifted,
    FeatureHistogram Histogram,
    long Values);
