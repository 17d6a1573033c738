using System.Globalization;
using Flywheel.Core.Monitoring;

namespace Flywheel.Core.Rollouts;

/// <summary>
/// Automatic canary analysis: compares the canary's error rate, latency and (where labels come
/// back) model metric with production's over the bake period, and decides whether to promote it,
/// roll it back or keep baking. The burden of proof is on finding the canary worse: a check fails
/// only when a one-sided test says so at the policy's level and the difference exceeds its margin.
/// </summary>
public static class CanaryAnalysis
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Latencies compared per arm at most: a uniform random sample of the requests keeps a long bake's analysis cheap.</summary>
    public const int LatencySample = 20_000;

    /// <summary>Scored labels compared per arm at most, likewise a uniform random sample.</summary>
    public const int ScoredSample = 20_000;

    /// <summary>
    /// Judges the evidence so far. During the bake (<paramref name="bakeComplete"/> false) the
    /// canary is rolled back only when a check finds it worse at <see cref="CanaryPolicy.EarlyAlpha"/>;
    /// otherwise it keeps baking. At the end it is rolled back when a check finds it worse at
    /// <see cref="CanaryPolicy.Alpha"/>, and promoted when none does, provided each arm served
    /// <see cref="CanaryPolicy.MinRequests"/> requests and, if labels came back at all, has
    /// <see cref="CanaryPolicy.MinLabelled"/> of them. An end without that evidence rolls back:
    /// a canary that could not be shown to be fine is not given all the traffic, and the reason
    /// says what was missing so the operator can lengthen the bake or raise the canary's share.
    /// </summary>
    /// <exception cref="ArgumentException">The policy is invalid or an arm's evidence contradicts itself.</exception>
    public static CanaryVerdict Judge(ArmEvidence production, ArmEvidence canary, CanaryPolicy policy, bool bakeComplete)
    {
        ArgumentNullException.ThrowIfNull(production);
        ArgumentNullException.ThrowIfNull(canary);
        ArgumentNullException.ThrowIfNull(policy);
        var policyErrors = policy.Validate();
        if (policyErrors.Count > 0)
        {
            throw new ArgumentException($"The canary policy is invalid: {string.Join("; ", policyErrors.Select(e => $"{e.Field} {e.Message}"))}", nameof(policy));
        }

        production.Require("production");
        canary.Require("canary");
        if ((production.AbsoluteErrors is null) != (canary.AbsoluteErrors is null))
        {
            throw new ArgumentException("Both arms must be classification (no absolute errors) or both regression (absolute errors).", nameof(canary));
        }

        var alpha = bakeComplete ? policy.Alpha : policy.EarlyAlpha;
        var traffic = Traffic(production, canary, policy);
        var tests = new[]
        {
            ErrorRate(production, canary, policy, alpha), Latency(production, canary, policy, alpha), Metric(production, canary, policy, alpha),
            Auc(production, canary, policy, alpha),
        };
        var metricMissing = tests[2].Missing;
        IReadOnlyList<CanaryCheck> checks = [traffic.Check, .. tests.Select(t => t.Check)];

        var worse = tests.Where(t => t.Worse).ToList();
        if (worse.Count > 0)
        {
            var when = bakeComplete ? "" : " before the end of the bake period";
            return new(CanaryOutcome.RollBack, $"Rolled back{when}: {string.Join("; ", worse.Select(t => t.Check.Detail))}.", checks);
        }

        var missing = new[] { traffic.Missing, metricMissing }.OfType<string>().ToList();
        if (!bakeComplete)
        {
            var waiting = missing.Count > 0 ? $" ({string.Join("; ", missing)})" : "";
            return new(CanaryOutcome.Continue, $"Still baking: no check finds the canary clearly worse yet{waiting}.", checks);
        }

        if (missing.Count > 0)
        {
            return new(CanaryOutcome.RollBack, $"Rolled back: not enough evidence by the end of the bake period ({string.Join("; ", missing)}).", checks);
        }

        var evaluated = tests.Where(t => t.Evaluated).Select(t => t.Check.Detail);
        return new(CanaryOutcome.Promote, $"Promoted: no check found the canary worse ({string.Join("; ", evaluated)}).", checks);
    }

    /// <param name="Worse">The test found the canary worse at the level of this call.</param>
    /// <param name="Evaluated">The test ran (both arms had data for it).</param>
    /// <param name="Missing">What this check still needs before the canary can be promoted; null when nothing.</param>
    private sealed record Outcome(CanaryCheck Check, bool Worse, bool Evaluated, string? Missing);

    private static Outcome Traffic(ArmEvidence production, ArmEvidence canary, CanaryPolicy policy)
    {
        var enough = production.Requests >= policy.MinRequests && canary.Requests >= policy.MinRequests;
        var detail = $"canary served {Count(canary.Requests)} requests and production {Count(production.Requests)}; {Count(policy.MinRequests)} needed per arm";
        return new(new("traffic", enough, detail, production.Requests, canary.Requests, null), false, true, enough ? null : detail);
    }

    private static Outcome ErrorRate(ArmEvidence production, ArmEvidence canary, CanaryPolicy policy, double alpha)
    {
        if (production.Requests == 0 || canary.Requests == 0)
        {
            return new(new("error_rate", true, "error rate not compared: an arm has served no requests", null, null, null), false, false, null);
        }

        var productionRate = (double)production.Errors / production.Requests;
        var canaryRate = (double)canary.Errors / canary.Requests;
        var p = CanaryStatistics.RateWorsePValue(production.Errors, production.Requests, canary.Errors, canary.Requests, policy.ErrorRateMargin);
        var worse = p < alpha;
        var detail = $"canary error rate {Percent(canaryRate)} vs {Percent(productionRate)} in production ({PValue(p)})";
        return new(new("error_rate", !worse, detail, productionRate, canaryRate, p), worse, true, null);
    }

    /// <summary>
    /// Worse only when both hold: the canary's p95 is above what the policy allows (practically
    /// slower) and Mann-Whitney finds its latencies shifted up (not just a few slow requests).
    /// </summary>
    private static Outcome Latency(ArmEvidence production, ArmEvidence canary, CanaryPolicy policy, double alpha)
    {
        if (production.LatenciesMs.Count == 0 || canary.LatenciesMs.Count == 0)
        {
            return new(new("latency_p95", true, "latency not compared: an arm has no latency samples", null, null, null), false, false, null);
        }

        var productionP95 = CanaryStatistics.Quantile(production.LatenciesMs, 0.95)!.Value;
        var canaryP95 = CanaryStatistics.Quantile(canary.LatenciesMs, 0.95)!.Value;
        var allowed = Math.Max(productionP95 * policy.LatencyP95Ratio, productionP95 + policy.LatencyFloorMs);
        var (_, p) = CanaryStatistics.MannWhitneyGreater(canary.LatenciesMs, production.LatenciesMs);
        var worse = canaryP95 > allowed && p < alpha;
        var detail = $"canary p95 latency {Milliseconds(canaryP95)} vs {Milliseconds(productionP95)} in production (allowed {Milliseconds(allowed)}; "
            + $"Mann-Whitney {PValue(p)} over {Count(canary.LatenciesMs.Count)} and {Count(production.LatenciesMs.Count)} requests)";
        return new(new("latency_p95", !worse, detail, productionP95, canaryP95, p), worse, true, null);
    }

    private static Outcome Metric(ArmEvidence production, ArmEvidence canary, CanaryPolicy policy, double alpha)
    {
        var regression = production.AbsoluteErrors is not null;
        var name = regression ? "mae" : "accuracy";
        if (production.Labelled == 0 && canary.Labelled == 0)
        {
            return new(new(name, true, $"{Label(regression)} not compared: no labels have come back", null, null, null), false, false, null);
        }

        if (production.Labelled < policy.MinLabelled || canary.Labelled < policy.MinLabelled)
        {
            var detail = $"canary has {Count(canary.Labelled)} labelled predictions and production {Count(production.Labelled)}; {Count(policy.MinLabelled)} needed per arm";
            return new(new(name, false, detail, null, null, null), false, false, detail);
        }

        var labelled = $"on {Count(canary.Labelled)} and {Count(production.Labelled)} labelled predictions";
        if (regression)
        {
            var productionMae = production.AbsoluteErrors!.Average();
            var canaryMae = canary.AbsoluteErrors!.Average();
            var p = CanaryStatistics.MeanWorsePValue(canary.AbsoluteErrors!, production.AbsoluteErrors!, policy.MetricMargin);
            var worse = p < alpha;
            var detail = $"canary MAE {Number(canaryMae)} vs {Number(productionMae)} in production {labelled} ({PValue(p)})";
            return new(new(name, !worse, detail, productionMae, canaryMae, p), worse, true, null);
        }
        else
        {
            var productionAccuracy = (double)production.Correct / production.Labelled;
            var canaryAccuracy = (double)canary.Correct / canary.Labelled;

            // Lower accuracy is a higher misclassification rate, tested like the error rate.
            var p = CanaryStatistics.RateWorsePValue(
                production.Labelled - production.Correct, production.Labelled, canary.Labelled - canary.Correct, canary.Labelled, policy.MetricMargin);
            var worse = p < alpha;
            var detail = $"canary accuracy {Percent(canaryAccuracy)} vs {Percent(productionAccuracy)} in production {labelled} ({PValue(p)})";
            return new(new(name, !worse, detail, productionAccuracy, canaryAccuracy, p), worse, true, null);
        }
    }

    /// <summary>
    /// Binary models: the canary's ranking against production's, by AUC with DeLong's variance per
    /// arm (the arms are independent samples, so the variance of the difference is the sum).
    /// Accuracy alone counts predictions at one threshold and can favour a model that ranks worse:
    /// when the share of positives moves, one that flags fewer rows gains accuracy while telling
    /// positives from negatives no better than a coin. The drift monitor judges a binary model's
    /// live performance by AUC too. Compared only when each arm has <see cref="CanaryPolicy.MinLabelled"/>
    /// scored labels with <see cref="LivePerformance.MinimumRowsPerClassForAuc"/> of each class;
    /// otherwise accuracy decides alone.
    /// </summary>
    private static Outcome Auc(ArmEvidence production, ArmEvidence canary, CanaryPolicy policy, double alpha)
    {
        const string name = "auc";
        if (production.Scored is null || canary.Scored is null)
        {
            return new(new(name, true, "AUC not compared: not a binary model", null, null, null), false, false, null);
        }

        if (!Rankable(production.Scored, policy) || !Rankable(canary.Scored, policy))
        {
            var detail = $"AUC not compared: each arm needs {Count(policy.MinLabelled)} scored labels with {LivePerformance.MinimumRowsPerClassForAuc} of each class "
                + $"(canary {Classes(canary.Scored)}, production {Classes(production.Scored)})";
            return new(new(name, true, detail, null, null, null), false, false, null);
        }

        var (productionAuc, productionVariance) = DeLong(production.Scored);
        var (canaryAuc, canaryVariance) = DeLong(canary.Scored);
        var p = CanaryStatistics.AucWorsePValue(productionAuc, productionVariance, canaryAuc, canaryVariance, policy.MetricMargin);
        var worse = p < alpha;
        var compared = $"canary AUC {canaryAuc.ToString("0.000", Invariant)} vs {productionAuc.ToString("0.000", Invariant)} in production on {Count(canary.Scored.Count)} and {Count(production.Scored.Count)} scored labels ({PValue(p)})";
        return new(new(name, !worse, compared, productionAuc, canaryAuc, p), worse, true, null);
    }

    private static bool Rankable(IReadOnlyList<ScoredLabel> scored, CanaryPolicy policy)
    {
        var positives = scored.Count(s => s.Positive);
        return scored.Count >= policy.MinLabelled
            && positives >= LivePerformance.MinimumRowsPerClassForAuc
            && scored.Count - positives >= LivePerformance.MinimumRowsPerClassForAuc;
    }

    private static string Classes(IReadOnlyList<ScoredLabel> scored)
    {
        var positives = scored.Count(s => s.Positive);
        return $"{Count(positives)} positive and {Count(scored.Count - positives)} negative";
    }

    private static (double Auc, double Variance) DeLong(IReadOnlyList<ScoredLabel> scored) =>
        ConfidenceIntervals.DeLongAuc(scored.Select(s => s.Positive).ToArray(), scored.Select(s => s.Score).ToArray());

    private static string Label(bool regression) => regression ? "MAE" : "accuracy";

    private static string Count(long value) => value.ToString("N0", Invariant);

    /// <summary>One decimal, more below 1% so 0.05% does not read as 0.1%.</summary>
    private static string Percent(double fraction) => (fraction * 100).ToString(fraction < 0.01 ? "0.0##" : "0.0", Invariant) + "%";

    private static string Milliseconds(double value) => value.ToString(value < 10 ? "0.0##" : "0.0", Invariant) + " ms";

    private static string Number(double value) => value.ToString("G4", Invariant);

    private static string PValue(double p) => p < 0.001 ? "p < 0.001" : $"p = {p.ToString("0.000", Invariant)}";
}
