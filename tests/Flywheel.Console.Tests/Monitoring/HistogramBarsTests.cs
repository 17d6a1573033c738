using Flywheel.Console.Monitoring;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Tests.Monitoring;

public sealed class HistogramBarsTests
{
    [Fact]
    public void Each_bin_keeps_both_shares_and_the_axis_tops_at_the_largest_of_either_side()
    {
        var bars = HistogramBars.Bars(new HistogramView(["a", "b", "c"], [0.5, 0.25, 0.25], [0.1, 0.1, 0.8]));

        Assert.Equal(["a", "b", "c"], bars.Select(b => b.Bin));
        Assert.Equal([0.5, 0.25, 0.25], bars.Select(b => b.Reference));
        Assert.Equal([0.1, 0.1, 0.8], bars.Select(b => b.Current));
        Assert.Equal(0.8, HistogramBars.AxisMax(bars), 9);
    }

    [Fact]
    public void Missing_negative_and_non_finite_shares_are_empty_bars()
    {
        var bars = HistogramBars.Bars(new HistogramView(["a", "b", "c"], [1, double.NaN], [-0.5, double.PositiveInfinity, 0.5]));

        Assert.Equal([1.0, 0, 0], bars.Select(b => b.Reference));
        Assert.Equal([0, 0, 0.5], bars.Select(b => b.Current));
        Assert.Equal(1, HistogramBars.AxisMax(bars), 9);
    }

    [Fact]
    public void A_histogram_without_values_has_flat_bars_and_one_without_bins_has_none()
    {
        var flat = HistogramBars.Bars(new HistogramView(["a", "b"], [0, 0], [0, 0]));
        Assert.All(flat, b => Assert.Equal((0.0, 0.0), (b.Reference, b.Current)));
        Assert.Equal(0, HistogramBars.AxisMax(flat));
        Assert.Empty(HistogramBars.Bars(new HistogramView([], [], [])));
        Assert.Empty(HistogramBars.Bars(null));
        Assert.Equal(0, HistogramBars.AxisMax([]));
    }
}
