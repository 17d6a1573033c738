using Flywheel.Core.Statistics;

namespace Flywheel.Core.Tests.Statistics;

public sealed class NormalTests
{
    // Reference values: scipy 1.10.1, repr(scipy.stats.norm.cdf(z)) and repr(scipy.stats.norm.ppf(p)).
    [Theory]
    [InlineData(0.0, 0.5)]
    [InlineData(1.0, 0.8413447460685429)]
    [InlineData(1.96, 0.9750021048517795)]
    [InlineData(-1.96, 0.024997895148220435)]
    [InlineData(-3.0, 0.0013498980316300933)]
    [InlineData(-5.0, 2.866515718791933e-07)]
    [InlineData(-8.5, 9.47953482220325e-18)]
    [InlineData(-10.0, 7.61985302416047e-24)]
    [InlineData(-20.0, 2.7536241186061556e-89)]
    [InlineData(-37.5, 4.605353009581954e-308)]
    [InlineData(6.0, 0.9999999990134123)]
    public void Cdf_matches_published_values_to_1e_12_relative_including_the_far_tail(double z, double expected)
    {
        AssertRelative(expected, Normal.Cdf(z), 1e-12);
    }

    [Theory]
    [InlineData(0.5, 0.0)]
    [InlineData(0.975, 1.959963984540054)]
    [InlineData(0.025, -1.9599639845400545)]
    [InlineData(0.01, -2.3263478740408408)]
    [InlineData(0.3, -0.5244005127080409)]
    [InlineData(0.8, 0.8416212335729143)]
    [InlineData(1e-10, -6.361340902404056)]
    [InlineData(1e-300, -37.0470962993612)]
    [InlineData(0.999999, 4.753424308817087)]
    public void Quantile_matches_published_values_to_1e_12(double p, double expected)
    {
        Assert.Equal(expected, Normal.Quantile(p), Math.Max(1e-12, Math.Abs(expected) * 1e-12));
    }

    [Fact]
    public void Quantile_inverts_cdf_across_twenty_orders_of_magnitude()
    {
        for (var exponent = -20; exponent <= -1; exponent++)
        {
            foreach (var mantissa in new[] { 1.0, 2.5, 7.3 })
            {
                var p = mantissa * Math.Pow(10, exponent);
                AssertRelative(p, Normal.Cdf(Normal.Quantile(p)), 1e-12);
                if (exponent >= -8)
                {
                    // 1 - p itself is rounded to 1e-16, which past 1e-8 costs more than six digits of p.
                    AssertRelative(-Normal.Quantile(p), Normal.Quantile(1 - p), 1e-6);
                }
            }
        }
    }

    [Fact]
    public void Cdf_is_symmetric_and_saturates_at_the_infinities()
    {
        foreach (var z in new[] { 0.1, 0.46875, 0.5, 2.0, 4.0, 4.5, 12.0 })
        {
            Assert.Equal(1.0, Normal.Cdf(z) + Normal.Cdf(-z), 1e-15);
        }

        Assert.Equal(0.0, Normal.Cdf(double.NegativeInfinity));
        Assert.Equal(1.0, Normal.Cdf(double.PositiveInfinity));
        Assert.Equal(0.0, Normal.Cdf(-40));
        Assert.True(double.IsNaN(Normal.Cdf(double.NaN)));
    }

    [Fact]
    public void Quantile_of_0_and_1_is_infinite_and_outside_0_1_is_refused()
    {
        Assert.Equal(double.NegativeInfinity, Normal.Quantile(0));
        Assert.Equal(double.PositiveInfinity, Normal.Quantile(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Normal.Quantile(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Normal.Quantile(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Normal.Quantile(double.NaN));
    }

    private static void AssertRelative(double expected, double actual, double relative) =>
        Assert.True(Math.Abs(actual - expected) <= Math.Abs(expected) * relative, $"Expected {expected:R}, got {actual:R} (relative error {Math.Abs(actual - expected) / Math.Abs(expected):E2}).");
}
