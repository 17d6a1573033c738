using Flywheel.Core.Evaluation;

namespace Flywheel.Core.Tests.Evaluation;

public sealed class BinaryMetricsTests
{
    private const double Tolerance = 1e-12;

    private static BinaryMetrics Compute(bool[] labels, double[] probabilities, double threshold = 0.5, int bins = 10) =>
        BinaryMetrics.Compute(labels, probabilities, threshold, bins);

    [Fact]
    public void Auc_counts_tied_scores_as_half_a_correct_ordering()
    {
        // Positives score 0.2, 0.5, 0.9; negatives 0.2, 0.5, 0.5: 9 pairs.
        // 0.2 beats none and ties one (0.5); 0.5 beats 0.2 and ties two (1 + 0.5 + 0.5 = 2); 0.9 beats all 3.
        // AUC = (0.5 + 2 + 3) / 9 = 5.5 / 9.
        var metrics = Compute([false, true, false, true, false, true], [0.2, 0.2, 0.5, 0.5, 0.5, 0.9]);

        Assert.Equal(5.5 / 9, metrics.Auc, Tolerance);
    }

    [Fact]
    public void Auc_matches_the_scikit_learn_roc_example()
    {
        // scikit-learn, sklearn.metrics.auc docstring: y = [1, 1, 2, 2] (2 positive),
        // pred = [0.1, 0.4, 0.35, 0.8] -> roc_curve -> auc(fpr, tpr) = 0.75.
        var metrics = Compute([false, false, true, true], [0.1, 0.4, 0.35, 0.8]);

        Assert.Equal(0.75, metrics.Auc, Tolerance);
    }

    [Fact]
    public void A_perfect_ranker_scores_1_and_an_inverted_one_0()
    {
        bool[] labels = [false, false, true, true, true];
        double[] scores = [0.1, 0.2, 0.3, 0.7, 0.9];

        Assert.Equal(1.0, Compute(labels, scores).Auc);
        Assert.Equal(0.0, Compute(labels, [.. scores.Select(s => 1 - s)]).Auc);
    }

    [Fact]
    public void Auc_of_a_constant_score_is_one_half()
    {
        Assert.Equal(0.5, Compute([true, false, true, false, false], [0.3, 0.3, 0.3, 0.3, 0.3]).Auc);
    }

    [Fact]
    public void Auc_is_nan_with_one_class_and_left_out_of_the_summary()
    {
        var metrics = Compute([false, false, false], [0.1, 0.6, 0.2]);

        Assert.True(double.IsNaN(metrics.Auc));
        Assert.DoesNotContain("auc", metrics.Summary().Keys);
        Assert.True(double.IsNaN(Compute([true, true], [0.1, 0.6]).Auc));
    }

    [Fact]
    public void Auc_agrees_with_counting_every_pair_on_data_full_of_ties()
    {
        var random = new Random(7);
        var labels = Enumerable.Range(0, 600).Select(_ => random.NextDouble() < 0.3).ToArray();
        // Two decimals: about 6 rows share each score.
        var scores = labels.Select(l => Math.Round(Math.Clamp((l ? 0.15 : 0) + random.NextDouble(), 0, 1), 2)).ToArray();

        double wins = 0, pairs = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            for (var j = 0; j < labels.Length; j++)
            {
                if (labels[i] && !labels[j])
                {
                    pairs++;
                    wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
                }
            }
        }

        Assert.Equal(wins / pairs, Compute(labels, scores).Auc, Tolerance);
    }

    [Fact]
    public void A_million_rows_are_ranked_by_sorting_once()
    {
        // Scores 0..n-1 over n, positive from the middle up: a perfect ranker, shuffled.
        const int n = 1_000_000;
        var order = Enumerable.Range(0, n).ToArray();
        new Random(3).Shuffle(order);

        var metrics = Compute([.. order.Select(i => i >= n / 2)], [.. order.Select(i => (double)i / n)]);

        Assert.Equal(1.0, metrics.Auc);
        Assert.Equal(n / 2, metrics.Positives);
    }

    [Fact]
    public void Log_loss_matches_the_scikit_learn_example()
    {
        // scikit-learn, sklearn.metrics.log_loss docstring: log_loss(["spam", "ham", "ham", "spam"],
        // [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]) = 0.21616...; spam is the positive class.
        // By hand: -(ln 0.9 + ln 0.9 + ln 0.8 + ln 0.65) / 4
        //        = (0.1053605 + 0.1053605 + 0.2231436 + 0.4307829) / 4 = 0.2161619.
        var metrics = Compute([true, false, false, true], [0.9, 0.1, 0.2, 0.65]);

        Assert.Equal(0.21616187468057912, metrics.LogLoss, Tolerance);
    }

    [Fact]
    public void Log_loss_clips_certain_mistakes_instead_of_going_infinite()
    {
        // A positive at p = 0 costs -ln(1e-15) = 34.538776...; a negative at p = 1 costs -ln(1 - (1 - 1e-15)),
        // where 1 - 1e-15 rounds to 0.999999999999999 in a double, so 34.539575... Mean of the two.
        var metrics = Compute([true, false], [0.0, 1.0]);

        Assert.Equal((34.538776394910684 + 34.53957599234088) / 2, metrics.LogLoss, 1e-9);
        Assert.Equal(0.0, Compute([true, false], [1.0, 0.0]).LogLoss, 1e-13);
    }

    // Probabilities 0.9 0.8 0.6 0.55 0.4 0.3 0.2 0.1, labels T T F T T F F F (4 positives).
    [Theory]
    // >= 0.5: predicted 0.9 0.8 0.6 0.55 -> TP 3, FP 1, FN 1, TN 3: P 3/4, R 3/4, F1 3/4, accuracy 6/8.
    [InlineData(0.5, 0.75, 0.75, 0.75, 0.75)]
    // >= 0.55 keeps 0.55 itself: the same four rows.
    [InlineData(0.55, 0.75, 0.75, 0.75, 0.75)]
    // >= 0.35: five rows -> TP 4, FP 1, FN 0, TN 3: P 4/5, R 1, F1 2 * 4 / (2 * 4 + 1 + 0) = 8/9, accuracy 7/8.
    [InlineData(0.35, 0.8, 1.0, 8.0 / 9, 7.0 / 8)]
    // >= 0.7: two rows -> TP 2, FP 0, FN 2, TN 4: P 1, R 1/2, F1 4 / 6 = 2/3, accuracy 6/8.
    [InlineData(0.7, 1.0, 0.5, 2.0 / 3, 0.75)]
    public void Precision_recall_and_f1_count_rows_at_or_above_the_threshold_as_positive(
        double threshold, double precision, double recall, double f1, double accuracy)
    {
        var metrics = Compute(
            [true, true, false, true, true, false, false, false],
            [0.9, 0.8, 0.6, 0.55, 0.4, 0.3, 0.2, 0.1],
            threshold);

        Assert.Equal(threshold, metrics.Threshold);
        Assert.Equal(precision, metrics.Precision, Tolerance);
        Assert.Equal(recall, metrics.Recall, Tolerance);
        Assert.Equal(f1, metrics.F1, Tolerance);
        Assert.Equal(accuracy, metrics.Accuracy, Tolerance);
    }

    [Fact]
    public void Precision_and_f1_are_0_when_nothing_is_predicted_positive()
    {
        var metrics = Compute([true, false], [0.4, 0.3]);

        Assert.Equal((0.0, 0.0, 0.0, 0.5), (metrics.Precision, metrics.Recall, metrics.F1, metrics.Accuracy));
    }

    [Fact]
    public void Recall_and_f1_are_0_when_there_are_no_positives()
    {
        var metrics = Compute([false, false], [0.9, 0.3]);

        Assert.Equal((0.0, 0.0, 0.0, 0.5, 0L), (metrics.Precision, metrics.Recall, metrics.F1, metrics.Accuracy, metrics.Positives));
    }

    [Fact]
    public void Brier_matches_the_scikit_learn_example()
    {
        // scikit-learn, sklearn.metrics.brier_score_loss docstring: y_true = [0, 1, 1, 0],
        // y_prob = [0.1, 0.9, 0.8, 0.3] -> 0.037...; by hand (0.01 + 0.01 + 0.04 + 0.09) / 4 = 0.0375.
        var metrics = Compute([false, true, true, false], [0.1, 0.9, 0.8, 0.3]);

        Assert.Equal(0.0375, metrics.Brier, Tolerance);
    }

    [Fact]
    public void Expected_calibration_error_weights_each_bin_gap_by_its_rows()
    {
        // Ten bins. [0.1, 0.2): 0.1 F, 0.1 T -> mean 0.1, observed 0.5, gap 0.4.
        // [0.3, 0.4): 0.3 F, 0.35 F -> mean 0.325, observed 0, gap 0.325.
        // [0.9, 1.0]: 0.9 T, 0.95 T, 1.0 T, 0.9 F -> mean 3.75 / 4 = 0.9375, observed 0.75, gap 0.1875.
        // ECE = 2/8 * 0.4 + 2/8 * 0.325 + 4/8 * 0.1875 = 0.1 + 0.08125 + 0.09375 = 0.275.
        var metrics = Compute(
            [false, true, false, false, true, true, true, false],
            [0.1, 0.1, 0.3, 0.35, 0.9, 0.95, 1.0, 0.9]);

        Assert.Equal(0.275, metrics.ExpectedCalibrationError, Tolerance);
        Assert.Collection(
            metrics.Calibration,
            bin => AssertBin(new(0.1, 0.2, 2, 0.1, 0.5), bin),
            bin => AssertBin(new(0.3, 0.4, 2, 0.325, 0), bin),
            bin => AssertBin(new(0.9, 1.0, 4, 0.9375, 0.75), bin));
    }

    [Fact]
    public void A_perfectly_calibrated_set_has_no_calibration_error()
    {
        // Bin [0.2, 0.3): five rows at 0.2, one positive. Bin [0.8, 0.9): five rows at 0.8, four positive.
        var metrics = Compute(
            [true, false, false, false, false, true, true, true, true, false],
            [0.2, 0.2, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8, 0.8]);

        Assert.Equal(0.0, metrics.ExpectedCalibrationError, Tolerance);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(3)]
    [InlineData(7)]
    public void A_probability_on_a_bin_edge_falls_in_the_bin_that_starts_there(int bins)
    {
        for (var b = 0; b < bins; b++)
        {
            var edge = (double)b / bins;

            var bin = Assert.Single(Compute([true], [edge], bins: bins).Calibration);

            Assert.Equal(edge, bin.Lower);
        }

        Assert.Equal(1.0, Assert.Single(Compute([true], [1.0], bins: bins).Calibration).Upper);
    }

    [Fact]
    public void The_double_just_below_an_edge_stays_in_the_lower_bin()
    {
        // 0.8999999999999999 * 10 rounds to 9.0, but the value is below the 0.9 edge.
        var bin = Assert.Single(Compute([true], [0.8999999999999999]).Calibration);

        Assert.Equal((0.8, 0.9), (bin.Lower, bin.Upper));
    }

    [Fact]
    public void The_summary_uses_snake_case_keys()
    {
        var metrics = Compute([false, true, true, false], [0.1, 0.9, 0.8, 0.3]);

        Assert.Equal(
            ["rows", "positives", "threshold", "auc", "log_loss", "accuracy", "precision", "recall", "f1", "brier", "ece"],
            metrics.Summary().Keys);
        Assert.Equal(4, metrics.Summary()["rows"]);
        Assert.Equal(metrics.ExpectedCalibrationError, metrics.Summary()["ece"]);
        Assert.Equal(1.0, metrics.Summary()["auc"]);
    }

    [Fact]
    public void Lists_of_different_lengths_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => Compute([true, false], [0.5]));

        Assert.Contains("same length (2 and 1)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_set_is_refused() =>
        Assert.Contains("At least one row", Assert.Throws<ArgumentException>(() => Compute([], [])).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-0.01)]
    [InlineData(1.01)]
    public void Probabilities_outside_0_to_1_are_refused_with_their_position(double bad)
    {
        var error = Assert.Throws<ArgumentException>(() => Compute([true, false], [0.5, bad]));

        Assert.Contains("probabilities[1]", error.Message, StringComparison.Ordinal);
        Assert.Equal("probabilities", error.ParamName);
    }

    [Fact]
    public void A_threshold_outside_0_to_1_or_no_calibration_bins_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Compute([true], [0.5], threshold: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Compute([true], [0.5], bins: 0));
    }

    private static void AssertBin(CalibrationBin expected, CalibrationBin actual)
    {
        Assert.Equal(expected.Lower, actual.Lower, Tolerance);
        Assert.Equal(expected.Upper, actual.Upper, Tolerance);
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.MeanPredicted, actual.MeanPredicted, Tolerance);
        Assert.Equal(expected.ObservedRate, actual.ObservedRate, Tolerance);
    }
}
