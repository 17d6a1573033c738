using Flywheel.Core.Evaluation;

namespace Flywheel.Core.Tests.Evaluation;

public sealed class RegressionMetricsTests
{
    private const double Tolerance = 1e-12;

    [Fact]
    public void Metrics_match_the_scikit_learn_examples()
    {
        // scikit-learn docstrings for r2_score, mean_absolute_error and mean_squared_error:
        // y_true = [3, -0.5, 2, 7], y_pred = [2.5, 0.0, 2, 8] -> R2 0.9486081370449679, MAE 0.5, MSE 0.375.
        var metrics = RegressionMetrics.Compute([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]);

        Assert.Equal(0.9486081370449679, metrics.R2, Tolerance);
        Assert.Equal(0.5, metrics.Mae, Tolerance);
        Assert.Equal(Math.Sqrt(0.375), metrics.Rmse, Tolerance);
        Assert.Equal(2.875, metrics.MeanActual, Tolerance);
        Assert.Equal(4, metrics.Rows);
    }

    [Fact]
    public void Metrics_by_hand()
    {
        // Actual [1, 2, 3, 4], predicted [2, 2, 3, 2]: errors -1, 0, 0, 2.
        // SSres = 1 + 4 = 5 -> RMSE sqrt(5 / 4) = 1.1180340; MAE (1 + 2) / 4 = 0.75.
        // Mean 2.5, SStot = 2.25 + 0.25 + 0.25 + 2.25 = 5 -> R2 = 1 - 5 / 5 = 0.
        var metrics = RegressionMetrics.Compute([1, 2, 3, 4], [2, 2, 3, 2]);

        Assert.Equal(1.118033988749895, metrics.Rmse, Tolerance);
        Assert.Equal(0.75, metrics.Mae, Tolerance);
        Assert.Equal(0.0, metrics.R2, Tolerance);
        Assert.Equal(2.5, metrics.MeanActual);
    }

    [Fact]
    public void R2_is_negative_when_worse_than_predicting_the_mean()
    {
        // Actual [1, 2, 3], predicted [3, 2, 1]: SSres = 4 + 0 + 4 = 8, SStot = 1 + 0 + 1 = 2 -> R2 = 1 - 4 = -3.
        Assert.Equal(-3.0, RegressionMetrics.Compute([1, 2, 3], [3, 2, 1]).R2, Tolerance);
    }

    [Theory]
    // Constant actual values: SStot = 0, so exact predictions score 1 and anything else 0, as in scikit-learn.
    [InlineData(new[] { 5.0, 5.0, 5.0 }, new[] { 5.0, 5.0, 5.0 }, 1.0)]
    [InlineData(new[] { 5.0, 5.0, 5.0 }, new[] { 4.0, 5.0, 6.0 }, 0.0)]
    // 0.1 three times sums to 0.30000000000000004; the mean must still come back as exactly 0.1.
    [InlineData(new[] { 0.1, 0.1, 0.1 }, new[] { 0.1, 0.1, 0.1 }, 1.0)]
    [InlineData(new[] { 7.0 }, new[] { 9.0 }, 0.0)]
    public void R2_of_constant_actual_values_is_1_when_exact_and_0_otherwise(double[] actual, double[] predicted, double r2)
    {
        var metrics = RegressionMetrics.Compute(actual, predicted);

        Assert.Equal(r2, metrics.R2);
        Assert.Equal(actual[0], metrics.MeanActual);
    }

    [Fact]
    public void The_summary_uses_snake_case_keys()
    {
        var summary = RegressionMetrics.Compute([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]).Summary();

        Assert.Equal(["rows", "rmse", "mae", "r2", "mean_actual"], summary.Keys);
        Assert.Equal(0.5, summary["mae"], Tolerance);
    }

    [Fact]
    public void Lists_of_different_lengths_and_empty_sets_are_refused()
    {
        Assert.Contains("same length (2 and 3)", Assert.Throws<ArgumentException>(() => RegressionMetrics.Compute([1, 2], [1, 2, 3])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => RegressionMetrics.Compute([], []));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Values_that_are_not_finite_are_refused(double bad)
    {
        Assert.Contains("predicted[1]", Assert.Throws<ArgumentException>(() => RegressionMetrics.Compute([1, 2], [1, bad])).Message, StringComparison.Ordinal);
        Assert.Contains("actual[0]", Assert.Throws<ArgumentException>(() => RegressionMetrics.Compute([bad, 2], [1, 2])).Message, StringComparison.Ordinal);
    }
}
