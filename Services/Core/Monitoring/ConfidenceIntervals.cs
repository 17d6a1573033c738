using Flywheel.Core.Statistics;

namespace Flywheel.Core.Monitoring;

/// <summary>A two-sided interval [Low, High].</summary>
public readonly record struct Interval(double Low, double High);

/// <summary>The closed-form intervals live performance reports.</summary>
public static class ConfidenceIntervals
{
    /// <summary>
    /// Wilson's score interval for a proportion (E. B. Wilson, JASA 1927). Chosen over the Wald
    /// interval p ± z·√(p(1-p)/n) because that one collapses to a point at 0% and 100% and covers far
    /// below its nominal rate near them (Newcombe, Stat. Med. 1998), exactly where a good model's
    /// accuracy lives; Wilson's stays inside [0, 1] and keeps close to nominal coverage.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No trials, successes outside [0, trials], or confidence outside (0, 1).</exception>
    public static Interval Wilson(long successes, long trials, double confidence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, trials);
        var z = TwoSidedZ(confidence);
        var n = (double)trials;
        var p = successes / n;
        var z2 = z * z;
        var denominator = 1 + (z2 / n);
        var centre = (p + (z2 / (2 * n))) / denominator;
        var half = z / denominator * Math.Sqrt((p * (1 - p) / n) + (z2 / (4 * n * n)));

        // At 0 and n successes the formula's bound is the proportion itself up to rounding.
        return new(successes == 0 ? 0 : Math.Max(0, centre - half), successes == trials ? 1 : Math.Min(1, centre + half));
    }

    /// <summary>
    /// The ROC AUC and its variance by DeLong, DeLong and Clarke-Pearson (Biometrics 1988): the
    /// AUC is a two-sample U-statistic, and its variance is estimated from each positive's share of
    /// negatives it outranks and each negative's share of positives that outrank it. Chosen over
    /// Hanley and McNeil (Radiology 1982) because their formula assumes both classes' scores are
    /// exponential-like and so misstates the variance for other shapes; DeLong's is nonparametric
    /// and counts ties as half, as <see cref="Evaluation.BinaryMetrics"/> does. Each share comes from
    /// a binary search in the other class's sorted scores: O(n log n).
    /// </summary>
    /// <exception cref="ArgumentException">The lists differ in length or a class has fewer than 2 rows.</exception>
    public static (double Auc, double Variance) DeLongAuc(IReadOnlyList<bool> labels, IReadOnlyList<double> scores)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(scores);
        if (labels.Count != scores.Count)
        {
            throw new ArgumentException($"labels and scores must have the same length ({labels.Count} and {scores.Count}).", nameof(scores));
        }

        var positives = new List<double>();
        var negatives = new List<double>();
        for (var i = 0; i < labels.Count; i++)
        {
            (labels[i] ? positives : negatives).Add(scores[i]);
        }

        if (positives.Count < 2 || negatives.Count < 2)
        {
            throw new ArgumentException($"DeLong's variance needs at least 2 rows of each class ({positives.Count} positive, {negatives.Count} negative).", nameof(labels));
        }

        var sortedPositives = positives.ToArray();
        var sortedNegatives = negatives.ToArray();
        Array.Sort(sortedPositives);
        Array.Sort(sortedNegatives);

        // V10: for each positive, the share of negatives it outranks; V01: for each negative, the share of positives outranking it.
        var v10 = positives.Select(s => (CountBelow(sortedNegatives, s) + (0.5 * CountEqual(sortedNegatives, s))) / sortedNegatives.Length).ToArray();
        var v01 = negatives.Select(s => (CountAbove(sortedPositives, s) + (0.5 * CountEqual(sortedPositives, s))) / sortedPositives.Length).ToArray();
        var auc = v10.Average();
        return (auc, (SampleVariance(v10) / v10.Length) + (SampleVariance(v01) / v01.Length));
    }

    /// <summary>The z with the given two-sided coverage, e.g. 1.959964 for 0.95.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The confidence is not strictly between 0 and 1.</exception>
    public static double TwoSidedZ(double confidence)
    {
        if (!(confidence > 0 && confidence < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "A confidence level must be strictly between 0 and 1.");
        }

        return Normal.Quantile(0.5 + (confidence / 2));
    }

    private static double SampleVariance(double[] values)
    {
        var mean = values.Average();
        return values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1);
    }

    private static int CountBelow(double[] sorted, double value) => LowerBound(sorted, value);

    private static int CountEqual(double[] sorted, double value) => UpperBound(sorted, value) - LowerBound(sorted, value);

    private static int CountAbove(double[] sorted, double value) => sorted.Length - UpperBound(sorted, value);

    /// <summary>Index of the first element not below <paramref name="value"/>.</summary>
    private static int LowerBound(double[] sorted, double value)
    {
        int low = 0, high = sorted.Length;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (sorted[mid] < value)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }

    /// <summary>Index of the first element above <paramref name="value"/>.</summary>
    private static int UpperBound(double[] sorted, double value)
    {
        int low = 0, high = sorted.Length;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (sorted[mid] <= value)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }
}
