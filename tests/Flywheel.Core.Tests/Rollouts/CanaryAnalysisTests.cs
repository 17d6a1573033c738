using System.Text.Json;
using Flywheel.Core.Rollouts;

namespace Flywheel.Core.Tests.Rollouts;

public sealed class CanaryAnalysisTests
{
    private static readonly CanaryPolicy Policy = CanaryPolicy.Default;

    [Fact]
    public void A_clearly_worse_error_rate_rolls_back_early_and_at_the_end_with_the_numbers_in_the_reason()
    {
        var production = Arm(1000, errors: 3, seed: 1);
        var canary = Arm(1000, errors: 41, seed: 2);

        var early = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: false);
        var end = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.RollBack, early.Outcome);
        Assert.Equal("Rolled back before the end of the bake period: canary error rate 4.1% vs 0.3% in production (p < 0.001).", early.Reason);
        Assert.Equal(CanaryOutcome.RollBack, end.Outcome);
        Assert.Equal("Rolled back: canary error rate 4.1% vs 0.3% in production (p < 0.001).", end.Reason);
        var check = end.Checks.Single(c => c.Name == "error_rate");
        Assert.False(check.Passed);
        Assert.Equal(0.003, check.Production);
        Assert.Equal(0.041, check.Canary);
        Assert.Equal(1.2912357406385021e-05, check.PValue!.Value, 1e-12);
    }

    [Fact]
    public void Equal_arms_keep_baking_before_the_end_and_are_promoted_at_it()
    {
        var production = Arm(2000, errors: 10, seed: 3, labelled: 500, correct: 450);
        var canary = Arm(2000, errors: 11, seed: 4, labelled: 500, correct: 448);

        var early = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: false);
        var end = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.Continue, early.Outcome);
        Assert.Equal(CanaryOutcome.Promote, end.Outcome);
        Assert.StartsWith("Promoted: no check found the canary worse (canary error rate 0.55% vs 0.5% in production", end.Reason);
        Assert.Contains("canary accuracy 89.6% vs 90.0% in production on 500 and 500 labelled predictions", end.Reason);
        Assert.All(end.Checks, c => Assert.True(c.Passed, c.Detail));
        Assert.Equal(["traffic", "error_rate", "latency_p95", "accuracy", "auc"], end.Checks.Select(c => c.Name));
        Assert.Equal("AUC not compared: not a binary model", end.Checks[^1].Detail);
    }

    [Fact]
    public void A_slower_canary_rolls_back_on_latency()
    {
        var production = Arm(1000, errors: 2, seed: 5);
        var canary = Arm(1000, errors: 2, seed: 6, latencyScale: 1.6);

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.RollBack, verdict.Outcome);
        var latency = verdict.Checks.Single(c => c.Name == "latency_p95");
        Assert.False(latency.Passed);
        Assert.True(latency.Canary > 1.25 * latency.Production);
        Assert.StartsWith("Rolled back: canary p95 latency ", verdict.Reason);
        Assert.Contains("Mann-Whitney p < 0.001 over 1,000 and 1,000 requests", verdict.Reason);
    }

    [Fact]
    public void Ten_requests_a_little_slower_with_one_slow_call_are_not_clearly_worse_when_each_request_counts_once()
    {
        // Ten 20-row requests per arm. Counted once each (as the evidence is read) they are too few
        // for a shift this small to be significant; counted once per row, the same ten calls look
        // like 200 independent observations and the canary would be rolled back for one slow call.
        double[] production = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9];
        double[] canary = [1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 4.5];

        var perRequest = CanaryAnalysis.Judge(new(200, 0, production, 0, 0, null), new(200, 0, canary, 0, 0, null), Policy, bakeComplete: false);
        var perRow = CanaryAnalysis.Judge(
            new(200, 0, [.. production.SelectMany(l => Enumerable.Repeat(l, 20))], 0, 0, null),
            new(200, 0, [.. canary.SelectMany(l => Enumerable.Repeat(l, 20))], 0, 0, null), Policy, bakeComplete: false);

        var latency = perRequest.Checks.Single(c => c.Name == "latency_p95");
        Assert.True(latency.Passed, latency.Detail);
        // Its p95 is above what is allowed; only the significance test keeps it.
        Assert.True(latency.Canary > latency.Production + Policy.LatencyFloorMs, latency.Detail);
        Assert.EndsWith("over 10 and 10 requests)", latency.Detail, StringComparison.Ordinal);
        Assert.NotEqual(CanaryOutcome.RollBack, perRequest.Outcome);
        Assert.Equal(CanaryOutcome.RollBack, perRow.Outcome);
    }

    [Fact]
    public void A_canary_slower_within_the_allowed_ratio_is_promoted()
    {
        // 10% slower everywhere: Mann-Whitney sees the shift, but the p95 stays within 1.25x.
        var production = Arm(1000, errors: 2, seed: 5);
        var canary = Arm(1000, errors: 2, seed: 6, latencyScale: 1.1);

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.Promote, verdict.Outcome);
        Assert.True(verdict.Checks.Single(c => c.Name == "latency_p95").PValue < 0.05);
    }

    [Fact]
    public void Sub_millisecond_latencies_use_the_absolute_floor()
    {
        // p95 of 0.2 ms vs 0.5 ms is 2.5x, but within production + 1 ms.
        var production = Arm(500, errors: 0, seed: 1) with { LatenciesMs = [.. Enumerable.Range(0, 500).Select(i => 0.1 + (i % 10 * 0.01))] };
        var canary = production with { LatenciesMs = [.. Enumerable.Range(0, 500).Select(i => 0.4 + (i % 10 * 0.01))] };

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.Promote, verdict.Outcome);
    }

    [Fact]
    public void Worse_accuracy_with_enough_labels_rolls_back()
    {
        var production = Arm(2000, errors: 4, seed: 7, labelled: 800, correct: 720);
        var canary = Arm(2000, errors: 4, seed: 8, labelled: 800, correct: 672);

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.RollBack, verdict.Outcome);
        Assert.Equal("Rolled back: canary accuracy 84.0% vs 90.0% in production on 800 and 800 labelled predictions (p < 0.001).", verdict.Reason);
    }

    [Fact]
    public void Evidence_significant_at_alpha_but_not_at_the_early_boundary_waits_for_the_end()
    {
        // Accuracy 90.0% vs 86.25% on 800 labels each: p = 0.0104 (Agresti-Caffo, by hand in Python:
        // b=81/802; c=111/802; norm.sf((c-b)/sqrt(b*(1-b)/802+c*(1-c)/802)) = 0.01040502704664436),
        // below alpha 0.05 but not below the early 0.001.
        var production = Arm(2000, errors: 4, seed: 7, labelled: 800, correct: 720);
        var canary = Arm(2000, errors: 4, seed: 8, labelled: 800, correct: 690);

        var early = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: false);
        var end = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.Continue, early.Outcome);
        Assert.Equal(CanaryOutcome.RollBack, end.Outcome);
        Assert.Equal("Rolled back: canary accuracy 86.3% vs 90.0% in production on 800 and 800 labelled predictions (p = 0.010).", end.Reason);
        Assert.Equal(0.01040502704664436, end.Checks.Single(c => c.Name == "accuracy").PValue!.Value, 1e-12);
    }

    [Fact]
    public void Worse_mae_rolls_back_a_regression_canary_and_equal_mae_promotes_it()
    {
        var random = new Random(12);
        var productionErrors = Enumerable.Range(0, 300).Select(_ => random.NextDouble()).ToArray();
        var sameErrors = Enumerable.Range(0, 300).Select(_ => random.NextDouble()).ToArray();
        var production = Arm(1000, errors: 1, seed: 9) with { Labelled = 300, AbsoluteErrors = productionErrors };
        var worse = Arm(1000, errors: 1, seed: 10) with { Labelled = 300, AbsoluteErrors = [.. sameErrors.Select(e => e * 1.5)] };
        var same = worse with { AbsoluteErrors = sameErrors };

        var rolledBack = CanaryAnalysis.Judge(production, worse, Policy, bakeComplete: true);
        var promoted = CanaryAnalysis.Judge(production, same, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.RollBack, rolledBack.Outcome);
        Assert.StartsWith("Rolled back: canary MAE 0.7", rolledBack.Reason);
        Assert.False(rolledBack.Checks.Single(c => c.Name == "mae").Passed);
        Assert.Equal(["traffic", "error_rate", "latency_p95", "mae", "auc"], rolledBack.Checks.Select(c => c.Name));
        Assert.Equal(CanaryOutcome.Promote, promoted.Outcome);
    }

    [Fact]
    public void Too_little_traffic_keeps_baking_and_at_the_end_rolls_back_saying_why()
    {
        var production = Arm(5000, errors: 10, seed: 11);
        var canary = Arm(120, errors: 0, seed: 12);

        var early = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: false);
        var end = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.Continue, early.Outcome);
        Assert.Contains("canary served 120 requests and production 5,000; 200 needed per arm", early.Reason);
        Assert.Equal(CanaryOutcome.RollBack, end.Outcome);
        Assert.Equal("Rolled back: not enough evidence by the end of the bake period (canary served 120 requests and production 5,000; 200 needed per arm).", end.Reason);
        Assert.False(end.Checks.Single(c => c.Name == "traffic").Passed);
    }

    [Fact]
    public void Labels_that_came_back_too_few_at_the_end_roll_back_but_none_at_all_do_not_block()
    {
        var production = Arm(1000, errors: 1, seed: 13, labelled: 40, correct: 36);
        var canary = Arm(1000, errors: 1, seed: 14, labelled: 35, correct: 31);

        var fewLabels = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);
        var noLabels = CanaryAnalysis.Judge(production with { Labelled = 0, Correct = 0 }, canary with { Labelled = 0, Correct = 0 }, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.RollBack, fewLabels.Outcome);
        Assert.Contains("canary has 35 labelled predictions and production 40; 100 needed per arm", fewLabels.Reason);
        Assert.Equal(CanaryOutcome.Promote, noLabels.Outcome);
        Assert.Equal("accuracy not compared: no labels have come back", noLabels.Checks.Single(c => c.Name == "accuracy").Detail);
    }

    [Fact]
    public void Zero_errors_in_both_arms_and_empty_latency_lists_pass_without_inventing_numbers()
    {
        var production = new ArmEvidence(500, 0, [], 0, 0, null);
        var canary = new ArmEvidence(500, 0, [], 0, 0, null);

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.Promote, verdict.Outcome);
        var errorRate = verdict.Checks.Single(c => c.Name == "error_rate");
        Assert.True(errorRate.Passed);
        Assert.Equal(0.0, errorRate.Canary);
        var latency = verdict.Checks.Single(c => c.Name == "latency_p95");
        Assert.True(latency.Passed);
        Assert.Null(latency.Production);
        Assert.Null(latency.PValue);
    }

    [Fact]
    public void Equal_arms_are_rarely_rolled_back_even_when_judged_at_every_look()
    {
        // 200 canaries identical to production, judged at 10 looks during the bake and once at the
        // end: false rollbacks should stay near alpha (the accuracy test is the one at 5%).
        var random = new Random(17);
        var rollbacks = 0;
        for (var replication = 0; replication < 200; replication++)
        {
            var rolledBack = false;
            for (var look = 1; look <= 11 && !rolledBack; look++)
            {
                var requests = 300 * look;
                var labelled = 60 * look;
                ArmEvidence Simulated(int seed) => new(
                    requests,
                    Binomial(random, requests, 0.01),
                    [.. Latencies(seed, 200, 1.0)],
                    labelled,
                    Binomial(random, labelled, 0.9),
                    null);
                var verdict = CanaryAnalysis.Judge(Simulated(random.Next()), Simulated(random.Next()), Policy, bakeComplete: look == 11);
                rolledBack = verdict.Outcome == CanaryOutcome.RollBack;
            }

            rollbacks += rolledBack ? 1 : 0;
        }

        Assert.InRange(rollbacks / 200.0, 0, 0.09);
    }

    [Fact]
    public void A_verdict_serialises_as_plain_snake_case_json()
    {
        var verdict = CanaryAnalysis.Judge(new(500, 0, [], 0, 0, null), new(500, 40, [], 0, 0, null), Policy, bakeComplete: true);
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

        var json = JsonSerializer.Serialize(verdict, options);

        Assert.Contains("\"outcome\":\"roll_back\"", json);
        Assert.Contains("\"p_value\":null", json);
        Assert.Equal(CanaryOutcome.RollBack, JsonSerializer.Deserialize<CanaryVerdict>(json, options)!.Outcome);
    }

    [Fact]
    public void An_invalid_policy_or_contradictory_evidence_is_refused()
    {
        var arm = Arm(500, errors: 0, seed: 1);

        Assert.Throws<ArgumentException>(() => CanaryAnalysis.Judge(arm, arm, Policy with { Alpha = 0 }, true));
        Assert.Throws<ArgumentException>(() => CanaryAnalysis.Judge(arm, arm with { Errors = 600 }, Policy, true));
        Assert.Throws<ArgumentException>(() => CanaryAnalysis.Judge(arm, arm with { Labelled = 3, AbsoluteErrors = [0.1] }, Policy, true));
        Assert.Throws<ArgumentException>(() => CanaryAnalysis.Judge(arm, arm with { LatenciesMs = [double.NaN] }, Policy, true));
    }

    [Fact]
    public void A_binary_canary_that_ranks_worse_rolls_back_on_auc_even_when_its_accuracy_is_higher()
    {
        // The demo's case: after the world changed, the retrained canary flags fewer rows, which
        // lifts its accuracy, while it tells fraud from the rest worse than a coin.
        var production = Binary(Arm(2000, errors: 0, seed: 8), rows: 600, positiveShare: 0.3, separation: 0.8, seed: 11, threshold: 0);
        var canary = Binary(Arm(2000, errors: 0, seed: 9), rows: 600, positiveShare: 0.3, separation: -0.2, seed: 12, threshold: 0.95);

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        var accuracy = verdict.Checks.Single(c => c.Name == "accuracy");
        Assert.True(accuracy.Passed, accuracy.Detail);
        Assert.True(accuracy.Canary > accuracy.Production, accuracy.Detail);
        var auc = verdict.Checks.Single(c => c.Name == "auc");
        Assert.False(auc.Passed);
        Assert.InRange(auc.Production!.Value, 0.9, 1);
        Assert.InRange(auc.Canary!.Value, 0.2, 0.5);
        Assert.True(auc.PValue < 0.001);
        Assert.Equal(CanaryOutcome.RollBack, verdict.Outcome);
        Assert.Matches(@"^Rolled back: canary AUC 0\.\d{3} vs 0\.\d{3} in production on 600 and 600 scored labels \(p < 0\.001\)\.$", verdict.Reason);
        // So clear a gap rolls it back before the end of the bake too.
        Assert.Equal(CanaryOutcome.RollBack, CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: false).Outcome);
    }

    [Fact]
    public void Binary_arms_that_rank_alike_are_promoted_with_both_aucs_in_the_reason()
    {
        var production = Binary(Arm(2000, errors: 0, seed: 8), rows: 600, positiveShare: 0.3, separation: 0.8, seed: 13);
        var canary = Binary(Arm(2000, errors: 0, seed: 9), rows: 600, positiveShare: 0.3, separation: 0.8, seed: 14);

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        Assert.Equal(CanaryOutcome.Promote, verdict.Outcome);
        var auc = verdict.Checks.Single(c => c.Name == "auc");
        Assert.True(auc.Passed);
        Assert.InRange(auc.PValue!.Value, 0.05, 1);
        Assert.Contains($"canary AUC {auc.Canary:0.000} vs {auc.Production:0.000} in production on 600 and 600 scored labels", verdict.Reason);
    }

    [Fact]
    public void A_small_auc_shortfall_within_the_policy_margin_is_not_worse()
    {
        var production = Binary(Arm(2000, errors: 0, seed: 8), rows: 3000, positiveShare: 0.5, separation: 0.8, seed: 15);
        var canary = Binary(Arm(2000, errors: 0, seed: 9), rows: 3000, positiveShare: 0.5, separation: 0.55, seed: 16);

        var strict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true).Checks.Single(c => c.Name == "auc");
        var lenient = CanaryAnalysis.Judge(production, canary, Policy with { MetricMargin = 0.05 }, bakeComplete: true).Checks.Single(c => c.Name == "auc");

        Assert.InRange(strict.Production!.Value - strict.Canary!.Value, 0.02, 0.05);
        Assert.False(strict.Passed, strict.Detail);
        Assert.True(lenient.Passed, lenient.Detail);
    }

    [Theory]
    [InlineData(99, 0.3)]   // fewer scored labels than the policy's 100
    [InlineData(600, 0.01)] // 6 positives: under 10 of a class
    [InlineData(600, 0.99)] // 6 negatives
    public void The_auc_is_not_compared_without_enough_scored_labels_of_each_class_and_accuracy_decides(int rows, double positiveShare)
    {
        var production = Binary(Arm(2000, errors: 0, seed: 8), rows: 600, positiveShare: 0.3, separation: 0.8, seed: 17);
        var canary = Binary(Arm(2000, errors: 0, seed: 9), rows: rows, positiveShare: positiveShare, separation: -0.8, seed: 18) with { Labelled = 600 };

        var verdict = CanaryAnalysis.Judge(production, canary, Policy, bakeComplete: true);

        var auc = verdict.Checks.Single(c => c.Name == "auc");
        Assert.True(auc.Passed);
        Assert.Null(auc.PValue);
        Assert.StartsWith("AUC not compared: each arm needs 100 scored labels with 10 of each class (canary ", auc.Detail);
        Assert.DoesNotContain("AUC", verdict.Reason);
    }

    [Fact]
    public void Evidence_with_scores_outside_0_to_1_or_on_a_regression_arm_is_refused()
    {
        var production = Binary(Arm(2000, errors: 0, seed: 8), rows: 200, positiveShare: 0.3, separation: 0.8, seed: 19);
        var outOfRange = production with { Scored = [.. production.Scored!.Take(199), new ScoredLabel(true, 1.5)] };
        var regression = Arm(2000, errors: 0, seed: 9, labelled: 200) with { AbsoluteErrors = [.. Enumerable.Repeat(0.1, 200)], Scored = production.Scored };
        var tooMany = production with { Labelled = 199, Correct = 100 };

        Assert.Contains("scores must be probabilities", Assert.Throws<ArgumentException>(() => CanaryAnalysis.Judge(production, outOfRange, Policy, true)).Message);
        Assert.Contains("a regression arm has no scored labels", Assert.Throws<ArgumentException>(() => CanaryAnalysis.Judge(regression, regression, Policy, true)).Message);
        Assert.Contains("must not outnumber the labelled rows", Assert.Throws<ArgumentException>(() => CanaryAnalysis.Judge(production, tooMany, Policy, true)).Message);
    }

    /// <summary>
    /// <paramref name="arm"/> as a binary model's arm with <paramref name="rows"/> labelled
    /// predictions: scores around 0.5 ± <paramref name="separation"/>/2 (positives up when it is
    /// positive, down when negative) with noise, and accuracy counted at <paramref name="threshold"/>.
    /// </summary>
    private static ArmEvidence Binary(ArmEvidence arm, int rows, double positiveShare, double separation, int seed, double threshold = 0.5)
    {
        var random = new Random(seed);
        var scored = new List<ScoredLabel>(rows);
        for (var i = 0; i < rows; i++)
        {
            var positive = i < Math.Round(rows * positiveShare);
            var gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var score = Math.Clamp(0.5 + ((positive ? 0.5 : -0.5) * separation) + (0.25 * gaussian), 0, 1);
            scored.Add(new(positive, score));
        }

        var correct = scored.Count(s => (s.Score >= threshold) == s.Positive);
        return arm with { Labelled = rows, Correct = correct, Scored = scored };
    }

    private static ArmEvidence Arm(long requests, long errors, int seed, long labelled = 0, long correct = 0, double latencyScale = 1) =>
        new(requests, errors, [.. Latencies(seed, (int)Math.Min(requests, 1000), latencyScale)], labelled, correct, null);

    /// <summary>Log-normal latencies around 20 ms with a long right tail, like a real service's.</summary>
    private static IEnumerable<double> Latencies(int seed, int count, double scale)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            yield return scale * 20 * Math.Exp(0.35 * gaussian);
        }
    }

    private static long Binomial(Random random, long trials, double p)
    {
        long successes = 0;
        for (var i = 0; i < trials; i++)
        {
            successes += random.NextDouble() < p ? 1 : 0;
        }

        return successes;
    }
}
