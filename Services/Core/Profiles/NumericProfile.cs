namespace Flywheel.Core.Profiles;

/// <summary>
/// A numeric distribution: moments for reports, 101 percentiles (0th to 100th) from which a
/// monitor can approximate the Wasserstein distance or a quantile shift, and a histogram for
/// PSI, Jensen-Shannon and chi-squared. <see cref="StdDev"/> is the population standard deviation
/// (divides by Count). A profile of no values has Count 0, zero moments, no quantiles and no bins,
/// so it still serialises as plain JSON (which has no NaN).
/// </summary>
public sealed record NumericProfile(
    long Count,
    double Min,
    double Max,
    double Mean,
    double StdDev,
    IReadOnlyList<double> Quantiles,
    Histogram Histogram)
{
    public const int Percentiles = 101;

    /// <summary>
    /// Profiles values in ascending order. Sums run over the sorted values, so the same values in
    /// any order give the same profile to the last bit.
    /// </summary>
    internal static NumericProfile OfSorted(double[] sorted, int bins)
    {
        var n = sorted.Length;
        if (n == 0)
        {
            return new(0, 0, 0, 0, 0, [], new Histogram([], []));
        }

        double min = sorted[0], max = sorted[^1], sum = 0;
        foreach (var value in sorted)
        {
            sum += value;
        }

        // Clamped so a constant feature gets its value back as the mean, not an ulp off it.
        var mean = Math.Clamp(sum / n, min, max);
        double squares = 0;
        foreach (var value in sorted)
        {
            squares += (value - mean) * (value - mean);
        }

        var quantiles = new double[Percentiles];
        for (var p = 0; p < Percentiles; p++)
        {
            quantiles[p] = Quantile(sorted, p / 100.0);
        }

        var edges = Edges(sorted, bins);
        var counts = new long[edges.Count - 1];
        var histogram = new Histogram(edges, counts);
        foreach (var value in sorted)
        {
            counts[histogram.BinOf(value)]++;
        }

        return new(n, min, max, mean, Math.Sqrt(squares / n), quantiles, histogram);
    }

    /// <summary>
    /// The q-quantile with linear interpolation between the two nearest ranks (numpy's default):
    /// position q * (n - 1) in the sorted values.
    /// </summary>
    private static double Quantile(double[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var below = (int)Math.Floor(position);
        if (below >= sorted.Length - 1)
        {
            return sorted[^1];
        }

        double low = sorted[below], high = sorted[below + 1];
        // Clamped so rounding never lets a quantile pass the next value and break monotonicity.
        return Math.Clamp(low + ((high - low) * (position - below)), low, high);
    }

    /// <summary>
    /// Edges at the 0, 1/bins, ..., 1 quantiles with repeats dropped, so a feature with heavy ties
    /// gets fewer, wider bins instead of empty ones. A feature with no more distinct values than
    /// bins (a flag, a small count) gets one bin per value instead, split at the midpoints, because
    /// quantile edges would merge a rare value into its neighbour's bin and hide its drift.
    /// </summary>
    private static List<double> Edges(double[] sorted, int bins)
    {
        var distinct = new List<double> { sorted[0] };
        foreach (var value in sorted)
        {
            if (value > distinct[^1])
            {
                if (distinct.Count == bins)
                {
                    return QuantileEdges(sorted, bins);
                }

                distinct.Add(value);
            }
        }

        if (distinct.Count == 1)
        {
            return [distinct[0], distinct[0]];
        }

        var edges = new List<double> { distinct[0] };
        for (var i = 1; i < distinct.Count; i++)
        {
            var middle = distinct[i - 1] + ((distinct[i] - distinct[i - 1]) / 2);
            // Two adjacent doubles have no double between them: the upper one starts its own bin.
            edges.Add(middle > distinct[i - 1] ? middle : distinct[i]);
        }

        edges.Add(distinct[^1]);
        return edges;
    }

    private static List<double> QuantileEdges(double[] sorted, int bins)
    {
        var edges = new List<double> { sorted[0] };
        for (var k = 1; k <= bins; k++)
        {
            var edge = Quantile(sorted, (double)k / bins);
            if (edge > edges[^1])
            {
                edges.Add(edge);
            }
        }

        return edges;
    }
}
