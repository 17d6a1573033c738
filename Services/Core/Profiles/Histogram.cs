namespace Flywheel.Core.Profiles;

/// <summary>
/// Bins fixed on the training data, so a drift monitor can count live values into the very same
/// bins. Bin i holds [Edges[i], Edges[i + 1]); the last bin also holds its upper edge. Values
/// below the first edge count in the first bin and values above the last edge in the last, so
/// every live value lands somewhere. Edges increase, except that the last may repeat the one
/// before it, making the last bin [value, value]: always so for a constant feature, whose single
/// bin holds everything. A profile of no values has no edges and no bins.
/// </summary>
public sealed record Histogram(IReadOnlyList<double> Edges, IReadOnlyList<long> Counts)
{
    /// <summary>The index of the bin that holds <paramref name="value"/>, out-of-range values clamped to the first or last bin.</summary>
    /// <exception cref="ArgumentException">The value is NaN.</exception>
    /// <exception cref="InvalidOperationException">The histogram has no bins (it profiles no values).</exception>
    public int BinOf(double value)
    {
        if (double.IsNaN(value))
        {
            throw new ArgumentException("NaN falls in no bin.", nameof(value));
        }

        if (Counts.Count == 0)
        {
            throw new InvalidOperationException("This histogram profiles no values and has no bins.");
        }

        // The last edge at or below the value starts its bin.
        int low = 0, high = Edges.Count - 1;
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if (Edges[middle] <= value)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return Math.Min(low, Counts.Count - 1);
    }
}
