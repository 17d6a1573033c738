using Flywheel.Core.Profiles;

namespace Flywheel.Core.Tests.Profiles;

public sealed class HistogramTests
{
    private static readonly Histogram Four = new([1, 2, 3, 4, 5], [1, 1, 1, 2]);

    [Theory]
    [InlineData(1.0, 0)]
    [InlineData(1.99, 0)]
    [InlineData(2.0, 1)]
    [InlineData(3.5, 2)]
    [InlineData(4.0, 3)]
    [InlineData(5.0, 3)]
    public void A_bin_holds_its_lower_edge_and_the_last_also_its_upper(double value, int bin) =>
        Assert.Equal(bin, Four.BinOf(value));

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(-1e300, 0)]
    [InlineData(double.NegativeInfinity, 0)]
    [InlineData(5.0001, 3)]
    [InlineData(double.PositiveInfinity, 3)]
    public void Values_outside_the_edges_fall_into_the_first_or_last_bin(double value, int bin) =>
        Assert.Equal(bin, Four.BinOf(value));

    [Theory]
    [InlineData(-3.0)]
    [InlineData(7.0)]
    [InlineData(8.0)]
    public void A_constant_feature_has_one_bin_for_everything(double value) =>
        Assert.Equal(0, new Histogram([7, 7], [3]).BinOf(value));

    [Fact]
    public void Nan_falls_in_no_bin() =>
        Assert.Throws<ArgumentException>(() => Four.BinOf(double.NaN));

    [Fact]
    public void An_empty_histogram_has_no_bin_to_offer() =>
        Assert.Throws<InvalidOperationException>(() => new Histogram([], []).BinOf(1));
}
