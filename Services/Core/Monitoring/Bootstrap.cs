namespace Flywheel.Core.Monitoring;

/// <summary>
/// Percentile bootstrap (Efron and Tibshirani, 1993, ch. 13) for metrics with no usable closed-form
/// variance (F1, macro-F1, RMSE, MAE): resample the rows with replacement, recompute the metric,
/// and take the middle share of the recomputed values. Seeded, so the same window gives the same
/// interval every time it is read, and every statistic passed together sees the same resamples.
/// </summary>
internal static class Bootstrap
{
    /// <summary>Resamples per interval: enough for stable 2.5% and 97.5% percentiles (Efron and Tibshirani suggest at least 1000).</summary>
    public const int Resamples = 2000;

    /// <param name="statistics">Each maps the row indexes of one resample (repeats included) to the metric.</param>
    public static Interval[] Percentiles(int rows, int seed, double confidence, params Func<int[], double>[] statistics)
    {
        // System.Random with a seed is specified to produce the same sequence on every runtime.
        var random = new Random(seed);
        var indexes = new int[rows];
        var values = statistics.Select(_ => new double[Resamples]).ToArray();
        for (var r = 0; r < Resamples; r++)
        {
            for (var i = 0; i < rows; i++)
            {
                indexes[i] = random.Next(rows);
            }

            for (var s = 0; s < statistics.Length; s++)
            {
                values[s][r] = statistics[s](indexes);
            }
        }

        var tail = (1 - confidence) / 2;
        return [.. values.Select(v =>
        {
            Array.Sort(v);
            return new Interval(SortedQuantile(v, tail), SortedQuantile(v, 1 - tail));
        })];
    }

    /// <summary>Linear interpolation between order statistics (Hyndman and Fan's type 7, NumPy's default).</summary>
    public static double SortedQuantile(double[] sorted, double probability)
    {
        var position = probability * (sorted.Length - 1);
        var below = (int)Math.Floor(position);
        var above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + ((position - below) * (sorted[above] - sorted[below]));
    }
}
