namespace Flywheel.Core.Evaluation;

/// <summary>How far a regression model's predictions fall from labelled actual values.</summary>
/// <param name="R2">
/// 1 - SSres / SStot. When the actual values are all equal SStot is 0 and the ratio undefined;
/// then R2 is 1 for exact predictions and 0 otherwise, as scikit-learn's r2_score does, so a
/// constant window yields a finite number rather than NaN or minus infinity.
/// </param>
public sealed record RegressionMetrics(long Rows, double Rmse, double Mae, double R2, double MeanActual)
{
    /// <exception cref="ArgumentException">The lists differ in length or are empty, or a value is not finite.</exception>
    public static RegressionMetrics Compute(IReadOnlyList<double> actual, IReadOnlyList<double> predicted)
    {
        MetricInputs.RequireRows(actual, predicted, nameof(actual), nameof(predicted));
        var rows = actual.Count;
        double sum = 0, squaredErrors = 0, absoluteErrors = 0;
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (var i = 0; i < rows; i++)
        {
            MetricInputs.RequireFinite(actual[i], nameof(actual), i);
            MetricInputs.RequireFinite(predicted[i], nameof(predicted), i);
            var error = actual[i] - predicted[i];
            sum += actual[i];
            squaredErrors += error * error;
            absoluteErrors += Math.Abs(error);
            min = Math.Min(min, actual[i]);
            max = Math.Max(max, actual[i]);
        }

        // Clamped so equal actual values give their value back exactly and SStot exactly 0.
        var mean = Math.Clamp(sum / rows, min, max);
        double totalSquares = 0;
        for (var i = 0; i < rows; i++)
        {
            totalSquares += (actual[i] - mean) * (actual[i] - mean);
        }

        var r2 = totalSquares == 0 ? (squaredErrors == 0 ? 1 : 0) : 1 - (squaredErrors / totalSquares);
        return new(rows, Math.Sqrt(squaredErrors / rows), absoluteErrors / rows, r2, mean);
    }

    /// <summary>The scalar metrics under the snake_case keys a version's and a live window's metrics are stored and compared under.</summary>
    public IReadOnlyDictionary<string, double> Summary() => new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["rows"] = Rows,
        ["rmse"] = Rmse,
        ["mae"] = Mae,
        ["r2"] = R2,
        ["mean_actual"] = MeanActual,
    };
}
