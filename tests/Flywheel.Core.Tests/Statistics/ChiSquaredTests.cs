using Flywheel.Core.Statistics;

namespace Flywheel.Core.Tests.Statistics;

public sealed class ChiSquaredTests
{
    // Reference values: scipy 1.10.1, scipy.stats.chi2.sf(statistic, df).
    [Theory]
    [InlineData(3.84, 1, 0.05004352124870519)]
    [InlineData(0.5, 1, 0.47950012218695337)]
    [InlineData(10, 3, 0.01856613546304325)]
    [InlineData(100, 50, 3.454931382984871e-05)]
    [InlineData(1e-3, 2, 0.9995001249791693)]
    [InlineData(200, 10, 1.6139305336977317e-37)]
    [InlineData(2.5, 2.5, 0.38147122800307387)]
    [InlineData(30, 30, 0.4656537089440098)]
    [InlineData(1500, 1000, 1.0454640385980825e-22)]
    [InlineData(0.2, 0.5, 0.391661154271034)]
    public void Survival_matches_scipy(double statistic, double df, double expected) =>
        Assert.Equal(expected, ChiSquared.Survival(statistic, df), expected * 1e-9);

    [Fact]
    public void The_edges_are_certain()
    {
        Assert.Equal(1, ChiSquared.Survival(0, 3));
        Assert.Equal(1, ChiSquared.Survival(-2, 3));
        Assert.Equal(0, ChiSquared.Survival(double.PositiveInfinity, 3));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, -1)]
    [InlineData(1, double.NaN)]
    [InlineData(double.NaN, 2)]
    public void Bad_arguments_are_refused(double statistic, double df) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ChiSquared.Survival(statistic, df));
}
