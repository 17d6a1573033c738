using System.Globalization;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Drift;

/// <summary>
/// A model's drift thresholds. The defaults are Evidently's: p-value tests at 0.05 while a window
/// is small, distances at 0.1 (PSI 0.2) once it is large, and the dataset drifted when half of the
/// tested features did.
/// </summary>
/// <param name="LargeSample">
/// A feature whose window holds more present values than this is judged by a distance
/// (<see cref="DriftTest.Wasserstein"/> or <see cref="DriftTest.JensenShannon"/>) instead of a p-value
/// test. It is the window that decides because the window grows with traffic while the reference
/// is fixed, and it is a growing sample that makes a p-value test call negligible shifts significant.
/// </param>
/// <param name="KsPValue">Kolmogorov-Smirnov: drift when p is below this.</param>
/// <param name="ChiSquaredPValue">Chi-squared: drift when p is below this.</param>
/// <param name="WassersteinNormed">Wasserstein distance in reference standard deviations: drift at or above this.</param>
/// <param name="JensenShannon">Jensen-Shannon distance: drift at or above this.</param>
/// <param name="Psi">Population stability index: drift at or above this.</param>
/// <param name="DatasetDriftShare">The dataset drifted when at least this share of the tested features drifted.</param>
/// <param name="MissingRateIncrease">A feature's missing rate drifted when it rose above the reference's by more than this (absolute).</param>
/// <param name="OutOfRangeRate">A feature drifted out of range when more than this share of its present values fell outside the reference's range or categories.</param>
/// <param name="FeatureTests">Per feature name, a test to use instead of the one chosen by type and size.</param>
/// <param name="PredictionTest">A test for the prediction scores instead of the one chosen by size.</param>
public sealed record DriftPolicy(
    long LargeSample = 1000,
    double KsPValue = 0.05,
    double ChiSquaredPValue = 0.05,
    double WassersteinNormed = 0.1,
    double JensenShannon = 0.1,
    double Psi = 0.2,
    double DatasetDriftShare = 0.5,
    double MissingRateIncrease = 0.1,
    double OutOfRangeRate = 0.05,
    IReadOnlyDictionary<string, DriftTest>? FeatureTests = null,
    DriftTest? PredictionTest = null)
{
    public static DriftPolicy Default { get; } = new();

    /// <summary>The threshold this policy sets for <paramref name="test"/>.</summary>
    public double ThresholdOf(DriftTest test) => test switch
    {
        DriftTest.KolmogorovSmirnov => KsPValue,
        DriftTest.ChiSquared => ChiSquaredPValue,
        DriftTest.Wasserstein => WassersteinNormed,
        DriftTest.JensenShannon => JensenShannon,
        DriftTest.Psi => Psi,
        _ => throw new ArgumentOutOfRangeException(nameof(test), test, "Unknown drift test."),
    };

    /// <summary>Whether <paramref name="test"/> can compare a feature of <paramref name="type"/>: KS and Wasserstein need numbers.</summary>
    public static bool Fits(DriftTest test, FeatureType type) =>
        type == FeatureType.Numeric || test is DriftTest.ChiSquared or DriftTest.JensenShannon or DriftTest.Psi;

    /// <summary>Every problem with the thresholds, by snake_case field name; empty when the policy is usable.</summary>
    public IReadOnlyDictionary<string, string[]> Validate() => Validate(null);

    /// <summary>
    /// As <see cref="Validate()"/>, and when <paramref name="schema"/> is given, also that every
    /// per-feature override names a feature of the model with a test that fits its type
    /// (<c>feature_tests.{name}</c>).
    /// </summary>
    public IReadOnlyDictionary<string, string[]> Validate(ModelSchema? schema)
    {
        var errors = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
        if (LargeSample is < 10 or > 100_000_000)
        {
            errors["large_sample"] = [$"must be between 10 and 100000000; {LargeSample} is not."];
        }

        Open(errors, "ks_p_value", KsPValue, 0, 0.5);
        Open(errors, "chi_squared_p_value", ChiSquaredPValue, 0, 0.5);
        Open(errors, "wasserstein_normed", WassersteinNormed, 0, 100);
        Open(errors, "jensen_shannon", JensenShannon, 0, 1);
        Open(errors, "psi", Psi, 0, 100);
        Open(errors, "dataset_drift_share", DatasetDriftShare, 0, 1);
        Open(errors, "missing_rate_increase", MissingRateIncrease, 0, 1);
        Open(errors, "out_of_range_rate", OutOfRangeRate, 0, 1);
        if (PredictionTest is { } prediction && !Enum.IsDefined(prediction))
        {
            errors["prediction_test"] = [$"is not a drift test; use one of {Tests}."];
        }

        foreach (var (name, test) in FeatureTests ?? new Dictionary<string, DriftTest>())
        {
            var field = $"feature_tests.{name}";
            if (!Enum.IsDefined(test))
            {
                errors[field] = [$"is not a drift test; use one of {Tests}."];
                continue;
            }

            if (schema is null)
            {
                continue;
            }

            var feature = schema.Features.FirstOrDefault(f => f.Name == name);
            if (feature is null)
            {
                errors[field] = [$"is not a feature of model '{schema.Name}'."];
            }
            else if (feature.Pii)
            {
                errors[field] = ["is a PII feature; only its missing rate is monitored, so it takes no test."];
            }
            else if (!Fits(test, feature.Type))
            {
                errors[field] = [$"{Snake(test.ToString())} needs a numeric feature; '{name}' is {Snake(feature.Type.ToString())}. Use chi_squared, jensen_shannon or psi."];
            }
        }

        return errors;
    }

    private static readonly string Tests = string.Join(", ", Enum.GetNames<DriftTest>().Select(Snake));

    /// <summary>An enum value as the API spells it (snake_case), not as C# does.</summary>
    private static string Snake(string name) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    /// <summary>A threshold that must lie in (low, high]: a p-value threshold of 0 would never fire, a distance of 0 always.</summary>
    private static void Open(SortedDictionary<string, string[]> errors, string field, double value, double low, double high)
    {
        if (!double.IsFinite(value))
        {
            errors[field] = ["must be a finite number."];
        }
        else if (value <= low || value > high)
        {
            errors[field] = [string.Create(CultureInfo.InvariantCulture, $"must be greater than {low} and at most {high}; {value} is not.")];
        }
    }
}
