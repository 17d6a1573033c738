using Flywheel.Core.Statistics;

namespace Flywheel.Core.Rollouts;

/// <summary>The one-sided tests canary analysis uses: each asks whether the candidate is worse than the baseline.</summary>
public static class CanaryStatistics
{
    /// <summary>
    /// One-sided p-value for "the candidate's event rate exceeds the baseline's by more than
    /// <paramref name="margin"/>" (events: errors, or misclassified labels). The statistic is the
    /// Agresti–Caffo adjusted Wald z (Agresti and Caffo, Am. Stat. 2000): one event and one
    /// non-event are added to each arm before the rates and their standard error are computed, so
    /// an arm without events still has a variance and the test keeps close to its level at the
    /// small rates errors have; with a margin, the pooled classical z-test does not apply.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An arm has no trials, events outside [0, trials], or the margin is outside [0, 1).</exception>
    public static double RateWorsePValue(long baselineEvents, long baselineTrials, long candidateEvents, long candidateTrials, double margin)
    {
        RequireCounts(baselineEvents, baselineTrials, nameof(baselineEvents));
        RequireCounts(candidateEvents, candidateTrials, nameof(candidateEvents));
        if (!double.IsFinite(margin) || margin < 0 || margin >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(margin), margin, "The margin must be in [0, 1).");
        }

        var baseline = (baselineEvents + 1.0) / (baselineTrials + 2.0);
        var candidate = (candidateEvents + 1.0) / (candidateTrials + 2.0);
        var standardError = Math.Sqrt((baseline * (1 - baseline) / (baselineTrials + 2.0)) + (candidate * (1 - candidate) / (candidateTrials + 2.0)));
        var z = (candidate - baseline - margin) / standardError;
        return Normal.Cdf(-z);
    }

    /// <summary>
    /// One-sided z test that the candidate's AUC is lower than the baseline's by more than
    /// <paramref name="margin"/> (absolute), from two independent samples' AUCs and their
    /// variances (DeLong's, <see cref="Monitoring.ConfidenceIntervals.DeLongAuc"/>). When both
    /// variances are 0 (each arm separates its classes perfectly, or not at all) the difference is
    /// taken as exact: p is 0 when the candidate is lower by more than the margin, else 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An AUC outside [0, 1], a negative or non-finite variance, or a margin outside [0, 1).</exception>
    public static double AucWorsePValue(double baselineAuc, double baselineVariance, double candidateAuc, double candidateVariance, double margin)
    {
        foreach (var (value, name) in new[] { (baselineAuc, nameof(baselineAuc)), (candidateAuc, nameof(candidateAuc)) })
        {
            if (!(value >= 0 && value <= 1))
            {
                throw new ArgumentOutOfRangeException(name, value, "An AUC must be in [0, 1].");
            }
        }

        foreach (var (value, name) in new[] { (baselineVariance, nameof(baselineVariance)), (candidateVariance, nameof(candidateVariance)) })
        {
            if (!(double.IsFinite(value) && value >= 0))
            {
                throw new ArgumentOutOfRangeException(name, value, "A variance must be finite and not negative.");
            }
        }

        if (!double.IsFinite(margin) || margin < 0 || margin >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(margin), margin, "The margin must be in [0, 1).");
        }

        var shortfall = baselineAuc - candidateAuc - margin;
        var standardError = Math.Sqrt(baselineVariance + candidateVariance);
        if (standardError == 0)
        {
            return shortfall > 0 ? 0 : 1;
        }

        return Normal.Cdf(-shortfall / standardError);
    }

    /// <summary>
    /// One-sided Mann–Whitney U test that the candidate's values tend to be larger than the
    /// baseline's (a latency shift), by the normal approximation with tie correction and a 0.5
    /// continuity correction, as <c>scipy.stats.mannwhitneyu(candidate, baseline,
    /// alternative='greater', method='asymptotic')</c>. It looks at the whole distribution, so it
    /// confirms that a p95 difference is a shift rather than a few unlucky slow requests.
    /// </summary>
    /// <returns>The candidate's U (pairs where it is larger, ties counting half) and the p-value; p is 1 when every value is tied.</returns>
    /// <exception cref="ArgumentException">Either sample is empty.</exception>
    public static (double U, double PValue) MannWhitneyGreater(IReadOnlyList<double> candidate, IReadOnlyList<double> baseline)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(baseline);
        if (candidate.Count == 0 || baseline.Count == 0)
        {
            throw new ArgumentException("Mann-Whitney U needs at least one value in each sample.", candidate.Count == 0 ? nameof(candidate) : nameof(baseline));
        }

        var total = candidate.Count + baseline.Count;
        var values = new double[total];
        var isCandidate = new bool[total];
        for (var i = 0; i < candidate.Count; i++)
        {
            values[i] = candidate[i];
            isCandidate[i] = true;
        }

        for (var i = 0; i < baseline.Count; i++)
        {
            values[candidate.Count + i] = baseline[i];
        }

        Array.Sort(values, isCandidate);
        double candidateRanks = 0, tieTerm = 0;
        for (var start = 0; start < total;)
        {
            var end = start;
            long candidatesInGroup = 0;
            while (end < total && values[end] == values[start])
            {
                candidatesInGroup += isCandidate[end] ? 1 : 0;
                end++;
            }

            // Ranks start + 1 .. end share their average.
            double tied = end - start;
            candidateRanks += candidatesInGroup * ((start + 1 + end) / 2.0);
            tieTerm += (tied * tied * tied) - tied;
            start = end;
        }

        double n1 = candidate.Count, n2 = baseline.Count, n = total;
        var u = candidateRanks - (n1 * (n1 + 1) / 2);
        var variance = n1 * n2 / 12 * (n + 1 - (tieTerm / (n * (n - 1))));
        if (!(variance > 0))
        {
            return (u, 1);
        }

        var z = (u - (n1 * n2 / 2) - 0.5) / Math.Sqrt(variance);
        return (u, Normal.Cdf(-z));
    }

    /// <summary>
    /// One-sided p-value for "the candidate's mean exceeds (1 + <paramref name="relativeMargin"/>)
    /// times the baseline's", by Welch's unequal-variance statistic against the normal
    /// distribution: with at least <see cref="CanaryPolicy.MinimumSample"/> rows per arm, Student's t
    /// with Welch's degrees of freedom differs from it in the second decimal of p at most. With no
    /// spread in either sample, the answer is certain: 0 when the candidate's mean is above the
    /// bound, else 1.
    /// </summary>
    /// <exception cref="ArgumentException">A sample has fewer than 2 values or the margin is negative or not finite.</exception>
    public static double MeanWorsePValue(IReadOnlyList<double> candidate, IReadOnlyList<double> baseline, double relativeMargin)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(baseline);
        if (candidate.Count < 2 || baseline.Count < 2)
        {
            throw new ArgumentException("Welch's statistic needs at least 2 values in each sample.", candidate.Count < 2 ? nameof(candidate) : nameof(baseline));
        }

        if (!double.IsFinite(relativeMargin) || relativeMargin < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(relativeMargin), relativeMargin, "The margin must be a finite number, 0 or more.");
        }

        var (candidateMean, candidateVariance) = MeanAndVariance(candidate);
        var (baselineMean, baselineVariance) = MeanAndVariance(baseline);
        var scale = 1 + relativeMargin;
        var difference = candidateMean - (scale * baselineMean);
        var standardError = Math.Sqrt((candidateVariance / candidate.Count) + (scale * scale * baselineVariance / baseline.Count));
        if (standardError == 0)
        {
            return difference > 0 ? 0 : 1;
        }

        return Normal.Cdf(-difference / standardError);
    }

    /// <summary>The p-th quantile by linear interpolation between order statistics (NumPy's default); null for no values.</summary>
    public static double? Quantile(IReadOnlyList<double> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.ToArray();
        Array.Sort(sorted);
        var position = p * (sorted.Length - 1);
        var below = (int)Math.Floor(position);
        var above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + ((position - below) * (sorted[above] - sorted[below]));
    }

    private static (double Mean, double Variance) MeanAndVariance(IReadOnlyList<double> values)
    {
        var mean = values.Average();
        var squares = values.Sum(v => (v - mean) * (v - mean));
        return (mean, squares / (values.Count - 1));
    }

    private static void RequireCounts(long events, long trials, string name)
    {
        if (trials < 1 || events < 0 || events > trials)
        {
            throw new ArgumentOutOfRangeException(name, events, $"Events must be between 0 and the trials ({trials}), and trials at least 1.");
        }
    }
}
