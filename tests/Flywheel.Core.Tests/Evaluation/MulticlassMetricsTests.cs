using Flywheel.Core.Evaluation;

namespace Flywheel.Core.Tests.Evaluation;

public sealed class MulticlassMetricsTests
{
    private const double Tolerance = 1e-12;

    /// <summary>A vector that predicts <paramref name="predicted"/>: 0.6 there and the rest shared equally.</summary>
    private static double[] Predicting(int predicted, int classes = 3) =>
        [.. Enumerable.Range(0, classes).Select(c => c == predicted ? 0.6 : 0.4 / (classes - 1))];

    [Fact]
    public void Macro_f1_matches_the_scikit_learn_example()
    {
        // scikit-learn, sklearn.metrics.f1_score docstring: y_true = [0, 1, 2, 0, 1, 2],
        // y_pred = [0, 2, 1, 0, 0, 1] -> average=None [0.8, 0, 0], macro 0.26666...
        // Class 0: TP 2, support 2, predicted 3 -> P 2/3, R 1, F1 2 * 2 / (2 + 3) = 0.8. Classes 1 and 2: no TP.
        var metrics = MulticlassMetrics.Compute(
            [0, 1, 2, 0, 1, 2],
            [Predicting(0), Predicting(2), Predicting(1), Predicting(0), Predicting(0), Predicting(1)]);

        Assert.Equal(0.8 / 3, metrics.MacroF1, Tolerance);
        Assert.Equal(2.0 / 6, metrics.Accuracy, Tolerance);
        Assert.Equal(3, metrics.Classes);
        Assert.Equal(new ClassMetrics(0, 2, 2.0 / 3, 1, 0.8), metrics.PerClass[0]);
        Assert.Equal(new ClassMetrics(1, 2, 0, 0, 0), metrics.PerClass[1]);
        Assert.Equal(new ClassMetrics(2, 2, 0, 0, 0), metrics.PerClass[2]);
        // The true class gets 0.6 in rows 0 and 3 and 0.2 in the other four:
        // -(2 ln 0.6 + 4 ln 0.2) / 6 = (2 * 0.5108256 + 4 * 1.6094379) / 6 = 1.2432338.
        Assert.Equal(1.2432338162113972, metrics.LogLoss, Tolerance);
    }

    [Fact]
    public void Macro_f1_averages_per_class_f1_by_hand()
    {
        // Labels [0, 1, 1, 2], predicted [0, 1, 2, 2].
        // Class 0: TP 1, support 1, predicted 1 -> F1 1.
        // Class 1: TP 1, support 2, predicted 1 -> P 1, R 1/2, F1 2 * 1 / (2 + 1) = 2/3.
        // Class 2: TP 1, support 1, predicted 2 -> P 1/2, R 1, F1 2/3.
        // Macro = (1 + 2/3 + 2/3) / 3 = 7/9; accuracy 3/4.
        var metrics = MulticlassMetrics.Compute([0, 1, 1, 2], [Predicting(0), Predicting(1), Predicting(2), Predicting(2)]);

        Assert.Equal(7.0 / 9, metrics.MacroF1, Tolerance);
        Assert.Equal(0.75, metrics.Accuracy);
        Assert.Equal(new ClassMetrics(1, 2, 1, 0.5, 2.0 / 3), metrics.PerClass[1]);
        Assert.Equal(new ClassMetrics(2, 1, 0.5, 1, 2.0 / 3), metrics.PerClass[2]);
    }

    [Fact]
    public void A_class_neither_present_nor_predicted_is_listed_but_not_averaged()
    {
        // As above with a fourth class that never occurs: macro F1 stays 7/9.
        var metrics = MulticlassMetrics.Compute(
            [0, 1, 1, 2], [Predicting(0, 4), Predicting(1, 4), Predicting(2, 4), Predicting(2, 4)]);

        Assert.Equal(7.0 / 9, metrics.MacroF1, Tolerance);
        Assert.Equal(4, metrics.PerClass.Count);
        Assert.Equal(new ClassMetrics(3, 0, 0, 0, 0), metrics.PerClass[3]);
    }

    [Fact]
    public void A_class_predicted_but_never_present_counts_as_f1_0()
    {
        // Labels [0, 0], predicted [0, 1]: class 0 F1 2 * 1 / (2 + 1) = 2/3, class 1 F1 0 -> macro 1/3.
        var metrics = MulticlassMetrics.Compute([0, 0], [Predicting(0, 2), Predicting(1, 2)]);

        Assert.Equal(1.0 / 3, metrics.MacroF1, Tolerance);
    }

    [Fact]
    public void The_lowest_index_wins_a_tied_argmax()
    {
        // Classes 1 and 2 tie in the first row, 0 and 2 in the second: 1 and 0 are predicted, both right.
        var metrics = MulticlassMetrics.Compute([1, 0], [[0.2, 0.4, 0.4], [0.4, 0.2, 0.4]]);

        Assert.Equal(1.0, metrics.Accuracy);
        Assert.Equal(new ClassMetrics(2, 0, 0, 0, 0), metrics.PerClass[2]);
    }

    [Fact]
    public void Log_loss_matches_the_scikit_learn_example()
    {
        // scikit-learn, sklearn.metrics.log_loss docstring (ham = 0, spam = 1): 0.21616...
        var metrics = MulticlassMetrics.Compute([1, 0, 0, 1], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]);

        Assert.Equal(0.21616187468057912, metrics.LogLoss, Tolerance);
    }

    [Fact]
    public void Log_loss_clips_a_zero_probability_for_the_true_class()
    {
        Assert.Equal(34.538776394910684, MulticlassMetrics.Compute([0], [[0.0, 1.0]]).LogLoss, 1e-9);
    }

    [Fact]
    public void The_summary_uses_snake_case_keys()
    {
        var metrics = MulticlassMetrics.Compute([0, 1], [Predicting(0), Predicting(1)]);

        Assert.Equal(["rows", "classes", "accuracy", "macro_f1", "log_loss"], metrics.Summary().Keys);
        Assert.Equal(1.0, metrics.Summary()["macro_f1"]);
        Assert.Equal(3, metrics.Summary()["classes"]);
    }

    [Fact]
    public void Lists_of_different_lengths_and_empty_sets_are_refused()
    {
        Assert.Throws<ArgumentException>(() => MulticlassMetrics.Compute([0, 1], [Predicting(0)]));
        Assert.Throws<ArgumentException>(() => MulticlassMetrics.Compute([], []));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    public void A_label_that_is_not_a_class_index_is_refused(int label)
    {
        var error = Assert.Throws<ArgumentException>(() => MulticlassMetrics.Compute([0, label], [Predicting(0), Predicting(1)]));

        Assert.Contains("labels[1]", error.Message, StringComparison.Ordinal);
        Assert.Contains("[0, 2]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vectors_of_different_lengths_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => MulticlassMetrics.Compute([0, 1], [Predicting(0, 3), Predicting(1, 4)]));

        Assert.Contains("probabilities[1] has 4 entries, not 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vector_needs_at_least_two_classes() =>
        Assert.Throws<ArgumentException>(() => MulticlassMetrics.Compute([0], [[1.0]]));

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    public void Probabilities_outside_0_to_1_are_refused_with_their_position(double bad)
    {
        var error = Assert.Throws<ArgumentException>(() => MulticlassMetrics.Compute([0, 1], [[0.5, 0.5], [0.5, bad]]));

        Assert.Contains("probabilities[1][1]", error.Message, StringComparison.Ordinal);
    }
}
