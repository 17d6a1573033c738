using Flywheel.Core.Statistics;

namespace Flywheel.Core.Tests.Statistics;

public sealed class KolmogorovTests
{
    // Reference values: scipy 1.10.1, scipy.stats.kstwobign.sf(numpy.sqrt(en) * d). The λ = √en·d
    // cover both series (the theta form below 1.18, the alternating one above).
    [Theory]
    [InlineData(0.1, 100, 0.26999967167735456)]        // λ = 1
    [InlineData(0.05, 1000, 0.013475889875863678)]     // λ = 1.58
    [InlineData(0.3, 50, 0.0002468196081728957)]       // λ = 2.12
    [InlineData(0.02, 200, 0.9999982209908774)]        // λ = 0.28
    [InlineData(0.03, 100, 0.9999906941986655)]        // λ = 0.3
    [InlineData(0.15, 400, 3.045995948942526e-08)]     // λ = 3
    [InlineData(0.2, 100, 0.0006709252557796953)]      // λ = 2
    public void Survival_matches_scipy(double d, double effectiveN, double expected) =>
        Assert.Equal(expected, Kolmogorov.Survival(d, effectiveN), expected * 1e-9);

    [Fact]
    public void The_two_series_agree_where_they_meet()
    {
        var below = Kolmogorov.LimitingSurvival(1.18 - 1e-12);
        var above = Kolmogorov.LimitingSurvival(1.18);

        Assert.Equal(below, above, 1e-12);
    }

    [Fact]
    public void No_distance_is_no_evidence()
    {
        Assert.Equal(1, Kolmogorov.Survival(0, 500));
        Assert.Equal(1, Kolmogorov.Survival(1e-6, 500));
    }

    [Fact]
    public void The_p_value_falls_as_the_distance_or_the_sample_grows()
    {
        Assert.True(Kolmogorov.Survival(0.05, 1000) < Kolmogorov.Survival(0.04, 1000));
        Assert.True(Kolmogorov.Survival(0.05, 2000) < Kolmogorov.Survival(0.05, 1000));
    }

    [Theory]
    [InlineData(double.NaN, 10)]
    [InlineData(0.1, 0)]
    [InlineData(0.1, double.PositiveInfinity)]
    public void Bad_arguments_are_refused(double d, double effectiveN) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Kolmogorov.Survival(d, effectiveN));
}
