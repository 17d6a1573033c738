using Flywheel.Console.Monitoring;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Tests.Monitoring;

public sealed class HistogramBarsTests
{
    [Fact]
    public void The_largest_share_of_either_side_is_the_full_height_and_both_sides_share_the_scale()
    {
        var bars = HistogramBars.Scale(new HistogramView(["a", "b", "c"], [0.5, 0.25, 0.25], [0.1, 0.1, 0.8]), 100);

        Assert.Equal(["a", "b", "c"], bars.Select(b => b.Bin));
        Assert.Equal(100, bars[2].CurrentHeight, 9);
        Assert.Equal(62.5, bars[0].ReferenceHeight, 9);
        Assert.Equal(31.25, bars[1].ReferenceHeight, 9);
        Assert.Equal(12.5, bars[0].CurrentHeight, 9);
        Assert.Equal((0.5, 0.1), (bars[0].Reference, bars[0].Current));
    }

    [Fact]
    public void Missing_negative_and_non_finite_shares_are_empty_bars()
    {
        var bars = HistogramBars.Scale(new HistogramView(["a", "b", "c"], [1, double.NaN], [-0.5, double.PositiveInfinity, 0.5]), 40);

        Assert.Equal([40.0, 0, 0], bars.Select(b => b.ReferenceHeight));
        Assert.Equal([0, 0, 20.0], bars.Select(b => b.CurrentHeight));
    }

    [Fact]
    public void A_histogram_without_values_has_flat_bars_and_one_without_bins_has_none()
    {
        Assert.All(HistogramBars.Scale(new HistogramView(["a", "b"], [0, 0], [0, 0]), 100), b => Assert.Equal((0.0, 0.0), (b.ReferenceHeight, b.CurrentHeight)));
        Assert.Empty(HistogramBars.Scale(new HistogramView([], [], []), 100));
        Assert.Empty(HistogramBars.Scale(null, 100));
    }
}
