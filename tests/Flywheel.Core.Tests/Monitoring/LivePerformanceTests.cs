using System.Text.Json;
using Flywheel.Core.Monitoring;
using Flywheel.Core.Statistics;

namespace Flywheel.Core.Tests.Monitoring;

public sealed class LivePerformanceTests
{
    private const int Replications = 500;

    [Fact]
    public void Binary_intervals_cover_the_true_auc_accuracy_and_f1_at_about_their_nominal_rate()
    {
        // Scores are logistic(x) with x ~ N(1.2, 1) for positives (40%) and N(0, 1) for negatives;
        // threshold 0.5 is x >= 0. True AUC = Phi(1.2 / sqrt 2); accuracy = 0.4 Phi(1.2) + 0.6 * 0.5;
        // F1 = 2TP / (2TP + FP + FN) with TP = 0.4 Phi(1.2), FN = 0.4 (1 - Phi(1.2)), FP = 0.6 * 0.5.
        var tp = 0.4 * Normal.Cdf(1.2);
        var truth = new Dictionary<string, double>
        {
            ["auc"] = Normal.Cdf(1.2 / Math.Sqrt(2)),
            ["accuracy"] = tp + 0.3,
            ["f1"] = 2 * tp / ((2 * tp) + 0.3 + (0.4 - tp)),
        };
        var random = new Random(21);
        var covered = truth.Keys.ToDictionary(k => k, _ => 0);

        for (var replication = 0; replication < Replications; replication++)
        {
            var labels = Enumerable.Range(0, 150).Select(_ => random.NextDouble() < 0.4).ToArray();
            var scores = labels.Select(l => Logistic((l ? 1.2 : 0) + Gaussian(random))).ToArray();
            foreach (var estimate in LivePerformance.Binary(labels, scores))
            {
                covered[estimate.Metric] += estimate.CiLow <= truth[estimate.Metric] && truth[estimate.Metric] <= estimate.CiHigh ? 1 : 0;
            }
        }

        Assert.All(covered, c => Assert.True(c.Value / (double)Replications is >= 0.92 and <= 0.98, $"{c.Key} covered {c.Value} of {Replications}"));
    }

    [Fact]
    public void Multiclass_intervals_cover_the_true_accuracy_and_macro_f1_at_about_their_nominal_rate()
    {
        // Labels uniform over three classes; the prediction is right 80% of the time, else one of the
        // other two at random. By symmetry every class has precision = recall = 0.8, so macro-F1 = 0.8.
        string[] classes = ["cat", "dog", "fox"];
        var random = new Random(5);
        var covered = new Dictionary<string, int> { ["accuracy"] = 0, ["macro_f1"] = 0 };

        for (var replication = 0; replication < Replications; replication++)
        {
            var labels = Enumerable.Range(0, 150).Select(_ => random.Next(3)).ToArray();
            var predicted = labels.Select(l => random.NextDouble() < 0.8 ? l : (l + 1 + random.Next(2)) % 3).ToArray();
            var estimates = LivePerformance.Multiclass([.. labels.Select(l => classes[l])], [.. predicted.Select(p => classes[p])]);
            foreach (var estimate in estimates)
            {
                covered[estimate.Metric] += estimate.CiLow <= 0.8 && 0.8 <= estimate.CiHigh ? 1 : 0;
            }
        }

        Assert.All(covered, c => Assert.True(c.Value / (double)Replications is >= 0.92 and <= 0.98, $"{c.Key} covered {c.Value} of {Replications}"));
    }

    [Fact]
    public void Regression_intervals_cover_the_true_rmse_and_mae_at_about_their_nominal_rate()
    {
        // Errors ~ N(0, 2): RMSE = 2 and MAE = 2 sqrt(2 / pi).
        var truth = new Dictionary<string, double> { ["rmse"] = 2, ["mae"] = 2 * Math.Sqrt(2 / Math.PI) };
        var random = new Random(8);
        var covered = truth.Keys.ToDictionary(k => k, _ => 0);

        for (var replication = 0; replication < Replications; replication++)
        {
            var predicted = Enumerable.Range(0, 150).Select(_ => 10 * random.NextDouble()).ToArray();
            var labels = predicted.Select(p => p + (2 * Gaussian(random))).ToArray();
            foreach (var estimate in LivePerformance.Regression(labels, predicted))
            {
                covered[estimate.Metric] += estimate.CiLow <= truth[estimate.Metric] && truth[estimate.Metric] <= estimate.CiHigh ? 1 : 0;
            }
        }

        Assert.All(covered, c => Assert.True(c.Value / (double)Replications is >= 0.92 and <= 0.98, $"{c.Key} covered {c.Value} of {Replications}"));
    }

    [Fact]
    public void Binary_puts_auc_first_and_reports_the_point_values_of_the_training_metrics()
    {
        // 40 rows: 20 positives scoring 0.6..0.99, 20 negatives scoring 0.01..0.4 except two at 0.7.
        var labels = Enumerable.Range(0, 40).Select(i => i < 20).ToArray();
        var scores = Enumerable.Range(0, 40).Select(i => i < 20 ? 0.6 + (i * 0.02) : (i is 38 or 39 ? 0.7 : 0.01 + ((i - 20) * 0.02))).ToArray();

        var estimates = LivePerformance.Binary(labels, scores);

        Assert.Equal(["auc", "accuracy", "f1"], estimates.Select(e => e.Metric));
        var accuracy = estimates[1];
        Assert.Equal(38.0 / 40, accuracy.Value, 1e-12);
        Assert.Equal(40, accuracy.LabelledRows);
        Assert.Equal(0.95, accuracy.Confidence);
        // F1 = 2 * 20 / (2 * 20 + 2 FP + 0 FN).
        Assert.Equal(40.0 / 42, estimates[2].Value, 1e-12);
        Assert.All(estimates, e => Assert.InRange(e.Value, e.CiLow!.Value, e.CiHigh!.Value));
    }

    [Fact]
    public void With_one_class_only_accuracy_is_the_primary_metric_and_auc_is_absent()
    {
        var labels = Enumerable.Repeat(true, 50).ToArray();
        var scores = Enumerable.Range(0, 50).Select(i => i < 45 ? 0.8 : 0.2).ToArray();

        var estimates = LivePerformance.Binary(labels, scores);

        Assert.Equal(["accuracy", "f1"], estimates.Select(e => e.Metric));
        Assert.Equal(0.9, estimates[0].Value, 1e-12);
    }

    [Fact]
    public void All_correct_predictions_give_a_perfect_value_with_an_honest_interval_below_it()
    {
        var labels = Enumerable.Range(0, 60).Select(i => i % 3 == 0).ToArray();
        var scores = labels.Select(l => l ? 0.9 : 0.1).ToArray();

        var estimates = LivePerformance.Binary(labels, scores).ToDictionary(e => e.Metric);

        Assert.Equal(1.0, estimates["accuracy"].Value);
        Assert.Equal(1.0, estimates["accuracy"].CiHigh);
        // Wilson for 60/60: lower bound 60 / (60 + z^2) = 0.9398...
        Assert.Equal(60 / (60 + Math.Pow(Normal.Quantile(0.975), 2)), estimates["accuracy"].CiLow!.Value, 1e-12);
        Assert.Equal(1.0, estimates["auc"].Value);
        Assert.Equal(1.0, estimates["f1"].CiLow);
    }

    [Fact]
    public void Fewer_than_the_minimum_labelled_rows_give_values_without_intervals()
    {
        var rows = LivePerformance.MinimumLabelledRows - 1;
        var labels = Enumerable.Range(0, rows).Select(i => i % 2 == 0).ToArray();
        var scores = Enumerable.Range(0, rows).Select(i => (i % 7) / 7.0).ToArray();
        var actual = Enumerable.Range(0, rows).Select(i => (double)i).ToArray();

        var estimates = LivePerformance.Binary(labels, scores)
            .Concat(LivePerformance.Multiclass([.. labels.Select(l => l ? "a" : "b")], [.. scores.Select(s => s > 0.5 ? "a" : "b")]))
            .Concat(LivePerformance.Regression(actual, [.. actual.Select(a => a + 1)]))
            .ToList();

        Assert.Equal(7, estimates.Count);
        Assert.All(estimates, e =>
        {
            Assert.Null(e.CiLow);
            Assert.Null(e.CiHigh);
            Assert.Equal(rows, e.LabelledRows);
        });
        Assert.Equal(1.0, estimates.Single(e => e.Metric == "mae").Value, 1e-12);
    }

    [Fact]
    public void Auc_gets_no_interval_when_one_class_has_too_few_rows()
    {
        var labels = Enumerable.Range(0, 100).Select(i => i < LivePerformance.MinimumRowsPerClassForAuc - 1).ToArray();
        var scores = Enumerable.Range(0, 100).Select(i => (i % 10) / 10.0).ToArray();

        var estimates = LivePerformance.Binary(labels, scores);

        Assert.Equal("auc", estimates[0].Metric);
        Assert.Null(estimates[0].CiLow);
        Assert.NotNull(estimates[1].CiLow);
    }

    [Fact]
    public void The_bootstrap_gives_the_same_interval_for_the_same_seed_and_another_for_another()
    {
        var random = new Random(1);
        var labels = Enumerable.Range(0, 200).Select(_ => random.NextDouble() < 0.5).ToArray();
        var scores = labels.Select(l => Math.Clamp((l ? 0.2 : 0) + random.NextDouble(), 0, 1)).ToArray();
        var actual = Enumerable.Range(0, 200).Select(_ => random.NextDouble() * 5).ToArray();
        var predicted = actual.Select(a => a + random.NextDouble() - 0.5).ToArray();

        var f1 = LivePerformance.Binary(labels, scores).Single(e => e.Metric == "f1");
        var rmse = LivePerformance.Regression(actual, predicted)[0];

        Assert.Equal(f1, LivePerformance.Binary(labels, scores).Single(e => e.Metric == "f1"));
        Assert.Equal(rmse, LivePerformance.Regression(actual, predicted)[0]);
        Assert.NotEqual(rmse, LivePerformance.Regression(actual, predicted, seed: 99)[0]);
    }

    [Fact]
    public void No_rows_give_no_estimates_and_mismatched_or_invalid_rows_are_refused()
    {
        Assert.Empty(LivePerformance.Binary([], []));
        Assert.Empty(LivePerformance.Multiclass([], []));
        Assert.Empty(LivePerformance.Regression([], []));
        Assert.Throws<ArgumentException>(() => LivePerformance.Binary([true, false], [0.5]));
        Assert.Throws<ArgumentException>(() => LivePerformance.Binary([true], [1.5]));
        Assert.Throws<ArgumentException>(() => LivePerformance.Multiclass(["a", null!], ["a", "b"]));
        Assert.Throws<ArgumentException>(() => LivePerformance.Regression([1.0], [double.NaN]));
        Assert.Throws<ArgumentOutOfRangeException>(() => LivePerformance.Regression([1.0], [2.0], confidence: 1.0));
    }

    [Fact]
    public void Estimates_serialise_as_plain_json()
    {
        var labels = Enumerable.Repeat(false, 40).ToArray();
        var estimates = LivePerformance.Binary(labels, [.. labels.Select(_ => 0.2)]);
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

        var json = JsonSerializer.Serialize(estimates, options);

        Assert.Contains("\"metric\":\"accuracy\"", json);
        Assert.Contains("\"ci_low\":", json);
        Assert.Contains("\"labelled_rows\":40", json);
    }

    [Fact]
    public void IsDegraded_needs_the_whole_interval_beyond_training_and_tolerance_for_either_direction()
    {
        var auc = new PerformanceEstimate("auc", 0.82, 0.80, 0.84, 500, 0.95);
        var rmse = new PerformanceEstimate("rmse", 1.6, 1.5, 1.8, 500, 0.95);

        Assert.True(LivePerformance.IsDegraded(auc, trainingValue: 0.90, tolerance: 0.02, higherIsBetter: true));
        Assert.False(LivePerformance.IsDegraded(auc, trainingValue: 0.85, tolerance: 0.02, higherIsBetter: true));
        Assert.False(LivePerformance.IsDegraded(auc, trainingValue: 0.83, tolerance: 0, higherIsBetter: true));
        Assert.True(LivePerformance.IsDegraded(rmse, trainingValue: 1.2, tolerance: 0.1, higherIsBetter: false));
        Assert.False(LivePerformance.IsDegraded(rmse, trainingValue: 1.45, tolerance: 0.1, higherIsBetter: false));
        Assert.False(LivePerformance.IsDegraded(rmse with { CiLow = null, CiHigh = null }, trainingValue: 0.1, tolerance: 0, higherIsBetter: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => LivePerformance.IsDegraded(auc, 0.9, -0.1, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => LivePerformance.IsDegraded(auc, double.NaN, 0, true));
    }

    /// <summary>Box-Muller; 1 - NextDouble() is in (0, 1], so the log is finite.</summary>
    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static double Logistic(double x) => 1 / (1 + Math.Exp(-x));
}
