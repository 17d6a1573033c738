using Flywheel.Core.Drift;

namespace Flywheel.Core.Tests.Drift;

public sealed class DriftStatisticsTests
{
    // A reference known through its percentiles q_k = 10 (k / 100)², k = 0..100 (grid = linspace(0, 1, 101); q = 10 * grid**2).
    private static readonly double[] Quantiles = [.. Enumerable.Range(0, 101).Select(k => 10 * (k / 100.0) * (k / 100.0))];

    private static readonly double[] Spread = [-0.5, 0.05, 0.3, 0.9, 1.7, 2.2, 3.1, 4.4, 5.0, 6.8, 9.5, 10.5];

    private static readonly double[] Low = [0.5, 0.6, 0.7, 0.8, 1.0, 1.1, 1.2, 1.4, 1.5, 1.9];

    // scipy.stats.ks_1samp(x, lambda v: numpy.interp(v, q, grid)).statistic
    [Fact]
    public void Ks_distance_matches_scipy_against_the_interpolated_reference_cdf()
    {
        Assert.Equal(0.1413333333333333, DriftStatistics.KolmogorovSmirnov(Quantiles, Spread), 1e-12);
        Assert.Equal(0.5641379310344827, DriftStatistics.KolmogorovSmirnov(Quantiles, Low), 1e-12);
    }

    [Fact]
    public void Ks_distance_sees_the_jump_of_tied_percentiles()
    {
        // Half of the reference is exactly 0 (percentiles 0-50 tie), the rest spread over (0, 50].
        double[] quantiles = [.. Enumerable.Range(0, 101).Select(k => k <= 50 ? 0.0 : k - 50.0)];

        Assert.Equal(0.5, DriftStatistics.ReferenceCdf(quantiles, 0));
        Assert.Equal(0, DriftStatistics.ReferenceCdf(quantiles, -1e-9));
        // All zeros: the window's CDF is 1 at 0 where the reference's is 0.5.
        Assert.Equal(0.5, DriftStatistics.KolmogorovSmirnov(quantiles, [0, 0, 0, 0]), 1e-12);
        // Half zeros, half spread like the reference: no distance beyond the sample's own steps.
        Assert.Equal(0.1, DriftStatistics.KolmogorovSmirnov(quantiles, [0, 0, 0, 0, 0, 10, 20, 30, 40, 50]), 1e-12);
    }

    // Exact ∫₀¹ |Q_ref(p) − Q_cur(p)| dp by scipy.integrate.quad over each piece between the
    // breakpoints k/100 and i/n, with Q_ref = numpy.interp(p, grid, q) and Q_cur the sorted sample's
    // step function; scipy.stats.wasserstein_distance(numpy.interp((numpy.arange(N) + 0.5) / N, grid, q), x)
    // with N = 1,200,000 agrees to 1e-11 (0.5106317095427081 and 2.4503486792452787).
    [Fact]
    public void Wasserstein_matches_the_integral_of_the_quantile_functions()
    {
        Assert.Equal(0.510631709545978, DriftStatistics.Wasserstein(Quantiles, Sorted(Spread)), 1e-11);
        Assert.Equal(2.450348679245283, DriftStatistics.Wasserstein(Quantiles, Low), 1e-11);
    }

    [Fact]
    public void Wasserstein_of_a_shift_is_the_shift()
    {
        // Uniform reference on [0, 1]; the window is 1000 evenly spread points shifted by 0.3.
        double[] uniform = [.. Enumerable.Range(0, 101).Select(k => k / 100.0)];
        double[] shifted = [.. Enumerable.Range(0, 1000).Select(i => ((i + 0.5) / 1000) + 0.3)];

        Assert.Equal(0.3, DriftStatistics.Wasserstein(uniform, shifted), 1e-9);
        Assert.Equal(0.3, DriftStatistics.KolmogorovSmirnov(uniform, shifted), 1e-3);
    }

    // scipy.spatial.distance.jensenshannon(p, q, base=2)
    [Fact]
    public void Jensen_shannon_matches_scipy_in_base_2()
    {
        Assert.Equal(0.3918681606471551, DriftStatistics.JensenShannon([10, 20, 30, 40], [40, 30, 20, 10]), 1e-12);
        Assert.Equal(0.7091551836567035, DriftStatistics.JensenShannon([0.5, 0.5, 0], [0.1, 0.2, 0.7]), 1e-12);
        Assert.Equal(1.0, DriftStatistics.JensenShannon([1, 0], [0, 1]), 1e-12);
        Assert.Equal(0.0, DriftStatistics.JensenShannon([3, 1], [300, 100]), 1e-12);
    }

    [Fact]
    public void Psi_by_hand()
    {
        // (0.4 − 0.5)·ln(0.4/0.5) + (0.6 − 0.5)·ln(0.6/0.5) = 0.0223144 + 0.0182322
        Assert.Equal(0.04054651081081642, DriftStatistics.Psi([50, 50], [40, 60]), 1e-12);
        // An empty reference bin counts as 0.0001: (0.4 − 0.5)·ln(0.8) + 0 + (0.1 − 0.0001)·ln(0.1/0.0001)
        Assert.Equal(0.7123991075017365, DriftStatistics.Psi([0.5, 0.5, 0], [0.5, 0.4, 0.1]), 1e-12);
        Assert.Equal(0, DriftStatistics.Psi([1, 2, 0], [10, 20, 0]), 1e-12);
    }

    // o = [48, 35, 15, 2]; r = [500, 300, 150, 50]; scipy.stats.chisquare(o, o.sum() * r / r.sum())
    [Fact]
    public void Chi_squared_matches_scipy_goodness_of_fit()
    {
        var (statistic, df) = DriftStatistics.ChiSquared([500, 300, 150, 50], [48, 35, 15, 2]);

        Assert.Equal(2.7133333333333334, statistic, 1e-12);
        Assert.Equal(3, df);
        Assert.Equal(0.4379661874823281, Flywheel.Core.Statistics.ChiSquared.Survival(statistic, df), 1e-12);
    }

    // o = [40, 35, 20, 5]; r = [500, 300, 200, 0] + 0.5; scipy.stats.chisquare(o, o.sum() * r / r.sum())
    [Fact]
    public void Chi_squared_smooths_a_bin_the_reference_never_saw()
    {
        var (statistic, df) = DriftStatistics.ChiSquared([500, 300, 200, 0], [40, 35, 20, 5]);

        Assert.Equal(493.8689147666289, statistic, 1e-9);
        Assert.Equal(3, df);
        Assert.Equal(1.0170689371526971e-106, Flywheel.Core.Statistics.ChiSquared.Survival(statistic, df), 1e-115);
    }

    [Fact]
    public void Chi_squared_drops_bins_empty_on_both_sides_and_needs_two()
    {
        Assert.Equal(DriftStatistics.ChiSquared([500, 300, 150, 50], [48, 35, 15, 2]), DriftStatistics.ChiSquared([500, 0, 300, 150, 50], [48, 0, 35, 15, 2]));
        Assert.Equal((0.0, 0), DriftStatistics.ChiSquared([10, 0], [7, 0]));
    }

    [Fact]
    public void Mismatched_bins_are_refused()
    {
        Assert.Throws<ArgumentException>(() => DriftStatistics.JensenShannon([1, 2], [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => DriftStatistics.Psi([0, 0], [1, 2]));
        Assert.Throws<ArgumentException>(() => DriftStatistics.Wasserstein(Quantiles, []));
    }

    private static double[] Sorted(double[] values) => [.. values.Order()];
}
