using System.Globalization;
using Flywheel.Core.Profiles;
using Flywheel.Core.Schema;
using Flywheel.Core.Statistics;

namespace Flywheel.Core.Drift;

/// <summary>
/// Compares a <see cref="DriftWindow"/> with its reference profile under a <see cref="DriftPolicy"/>.
/// Each feature gets the test its type and window size call for, unless the policy names one:
/// numbers get Kolmogorov-Smirnov while the window holds at most <see cref="DriftPolicy.LargeSample"/>
/// values and the normalised Wasserstein distance beyond; categories and booleans get chi-squared,
/// then Jensen-Shannon. The scores are compared like a numeric feature.
/// </summary>
public static class DriftEvaluator
{
    /// <summary>
    /// The floor under the reference standard deviation that normalises the Wasserstein distance,
    /// as Evidently's (0.001): a constant reference feature (std 0) does not divide by zero, stays
    /// at 0 while the window holds the same constant, and drifts as soon as the window's values
    /// move from it by a thousandth on average.
    /// </summary>
    public const double MinimumStdDev = 0.001;

    /// <summary>Evaluates the window. Sorts the window's numeric values in place, which changes nothing it reports.</summary>
    public static DriftReport Evaluate(DriftWindow window, DriftPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(policy);

        var features = window.Features.Select(f => Feature(f, window.Rows, policy)).ToList();
        var tested = features.Count(f => f.Test is not null);
        var drifted = features.Count(f => f.Drifted);
        var share = tested == 0 ? 0 : (double)drifted / tested;
        var prediction = window.ScoreWindow is { Count: > 0 } scores ? Prediction(scores, policy) : null;
        return new DriftReport(window.Rows, tested > 0 && share >= policy.DatasetDriftShare, share, features, prediction);
    }

    private static FeatureDrift Feature(DriftWindow.FeatureWindow feature, long rows, DriftPolicy policy)
    {
        var profile = feature.Profile;
        var missingRate = rows == 0 ? 0 : (double)feature.Missing / rows;
        var missingDrifted = rows > 0 && missingRate - profile.MissingRate > policy.MissingRateIncrease;
        var untested = new FeatureDrift(
            profile.Name, null, null, null, null, false, profile.MissingRate, missingRate, missingDrifted, 0, false,
            FeatureHistogram.Empty, feature.Present, null);

        if (feature.Definition.Pii)
        {
            return untested with { Skipped = "PII feature: only its missing rate is monitored." };
        }

        if (feature.Present == 0)
        {
            return untested with { Skipped = "No values in the window." };
        }

        if (profile.Count == 0)
        {
            return untested with { Skipped = "No values in the reference." };
        }

        var overridden = policy.FeatureTests?.GetValueOrDefault(profile.Name);
        if (feature.Numeric is { } numeric)
        {
            var result = Numeric(numeric, policy, overridden);
            var outOfRange = (double)numeric.OutOfRange / numeric.Count;
            return untested with
            {
                Test = result.Test,
                Statistic = result.Statistic,
                PValue = result.PValue,
                Threshold = result.Threshold,
                Drifted = result.Drifted,
                OutOfRangeRate = outOfRange,
                OutOfRangeDrifted = outOfRange > policy.OutOfRangeRate,
                Histogram = result.Histogram,
            };
        }

        var categorical = profile.Categorical!;
        var counts = feature.CategoryCounts!;
        var test = overridden is { } o && DriftPolicy.Fits(o, FeatureType.Categorical)
            ? o
            : feature.Present > policy.LargeSample ? DriftTest.JensenShannon : DriftTest.ChiSquared;
        var reference = categorical.Categories.Select(c => (double)c.Count).Append(categorical.OtherCount).ToArray();
        var current = counts.Select(c => (double)c).ToArray();
        var labels = categorical.Categories.Select(c => c.Value).Append(FeatureHistogram.OtherBin).ToList();
        if (categorical.OtherCount == 0 && counts[^1] == 0)
        {
            // No "other" on either side: leave the bucket out of the test's bins and the chart.
            reference = reference[..^1];
            current = current[..^1];
            labels.RemoveAt(labels.Count - 1);
        }

        var binned = Binned(test, reference, current, policy);
        var unseen = categorical.OtherCount == 0 ? (double)counts[^1] / feature.Present : 0;
        return untested with
        {
            Test = test,
            Statistic = binned.Statistic,
            PValue = binned.PValue,
            Threshold = binned.Threshold,
            Drifted = binned.Drifted,
            OutOfRangeRate = unseen,
            OutOfRangeDrifted = unseen > policy.OutOfRangeRate,
            Histogram = new FeatureHistogram(labels, Shares(reference), Shares(current)),
        };
    }

    private static PredictionDrift Prediction(DriftWindow.NumericWindow scores, DriftPolicy policy)
    {
        var result = Numeric(scores, policy, policy.PredictionTest);
        return new PredictionDrift(result.Test, result.Statistic, result.PValue, result.Threshold, result.Drifted, result.Histogram, scores.Count);
    }

    private sealed record Result(DriftTest Test, double Statistic, double? PValue, double Threshold, bool Drifted, FeatureHistogram Histogram);

    /// <summary>A numeric window (with values) against a reference with values.</summary>
    private static Result Numeric(DriftWindow.NumericWindow window, DriftPolicy policy, DriftTest? overridden)
    {
        var reference = window.Reference;
        var test = overridden is { } o && Enum.IsDefined(o)
            ? o
            : window.Count > policy.LargeSample ? DriftTest.Wasserstein : DriftTest.KolmogorovSmirnov;
        var referenceCounts = reference.Histogram.Counts.Select(c => (double)c).ToArray();
        var currentCounts = window.BinCounts.Select(c => (double)c).ToArray();
        var histogram = new FeatureHistogram(BinLabels(reference.Histogram), Shares(referenceCounts), Shares(currentCounts));
        var threshold = policy.ThresholdOf(test);
        switch (test)
        {
            case DriftTest.KolmogorovSmirnov:
            {
                var d = DriftStatistics.KolmogorovSmirnov(reference.Quantiles, window.Sorted());
                double n = window.Count, m = reference.Count;
                var p = Kolmogorov.Survival(d, n * m / (n + m));
                return new(test, d, p, threshold, p < threshold, histogram);
            }

            case DriftTest.Wasserstein:
            {
                var distance = DriftStatistics.Wasserstein(reference.Quantiles, window.Sorted()) / Math.Max(reference.StdDev, MinimumStdDev);
                return new(test, distance, null, threshold, distance >= threshold, histogram);
            }

            default:
            {
                var binned = Binned(test, referenceCounts, currentCounts, policy);
                return new(test, binned.Statistic, binned.PValue, binned.Threshold, binned.Drifted, histogram);
            }
        }
    }

    /// <summary>Chi-squared, Jensen-Shannon or PSI over bin counts (histogram bins or categories).</summary>
    private static (double Statistic, double? PValue, double Threshold, bool Drifted) Binned(
        DriftTest test, double[] reference, double[] current, DriftPolicy policy)
    {
        var threshold = policy.ThresholdOf(test);
        switch (test)
        {
            case DriftTest.ChiSquared:
            {
                var (statistic, df) = DriftStatistics.ChiSquared(reference, current);
                var p = df == 0 ? 1 : ChiSquared.Survival(statistic, df);
                return (statistic, p, threshold, p < threshold);
            }

            case DriftTest.JensenShannon:
            {
                var distance = DriftStatistics.JensenShannon(reference, current);
                return (distance, null, threshold, distance >= threshold);
            }

            case DriftTest.Psi:
            {
                var psi = DriftStatistics.Psi(reference, current);
                return (psi, null, threshold, psi >= threshold);
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(test), test, "Not a binned test.");
        }
    }

    private static double[] Shares(double[] counts)
    {
        var total = counts.Sum();
        return [.. counts.Select(c => total > 0 ? c / total : 0)];
    }

    private static List<string> BinLabels(Histogram histogram)
    {
        var labels = new List<string>(histogram.Counts.Count);
        for (var i = 0; i < histogram.Counts.Count; i++)
        {
            var last = i == histogram.Counts.Count - 1;
            labels.Add(string.Create(CultureInfo.InvariantCulture, $"[{histogram.Edges[i]}, {histogram.Edges[i + 1]}{(last ? "]" : ")")}"));
        }

        return labels;
    }
}
