using Flywheel.Console.Platform;

namespace Flywheel.Console.Monitoring;

/// <summary>One bin of a reference-vs-current chart: the two shares, each in [0, 1].</summary>
public sealed record HistogramBar(string Bin, double Reference, double Current);

/// <summary>
/// A drift histogram's two sides as bars for one chart. Missing, negative or non-finite shares
/// count as 0, and so do bins beyond the shorter side's end, so a malformed report still draws.
/// Both sides go on one value axis topped at the largest share of either (<see cref="AxisMax"/>), so
/// they are compared on the same scale and a small histogram still fills the chart.
/// </summary>
public static class HistogramBars
{
    public static IReadOnlyList<HistogramBar> Bars(HistogramView? histogram)
    {
        if (histogram is null || histogram.Bins.Count == 0)
        {
            return [];
        }

        return [.. histogram.Bins.Select((bin, i) => new HistogramBar(bin, Share(histogram.Reference, i), Share(histogram.Current, i)))];
    }

    /// <summary>The largest share of either side; 0 when every bin is empty.</summary>
    public static double AxisMax(IReadOnlyList<HistogramBar> bars) =>
        bars.Count == 0 ? 0 : Math.Max(bars.Max(b => b.Reference), bars.Max(b => b.Current));

    private static double Share(IReadOnlyList<double> shares, int index) =>
        index < shares.Count && double.IsFinite(shares[index]) && shares[index] > 0 ? shares[index] : 0;
}
