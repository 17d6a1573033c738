using Flywheel.Core.Rollouts;

namespace Flywheel.Core.Tests.Rollouts;

public sealed class CanaryStatisticsTests
{
    // Python (scipy 1.10.1): b=(e0+1)/(n0+2); c=(e1+1)/(n1+2);
    // se=math.sqrt(b*(1-b)/(n0+2)+c*(1-c)/(n1+2)); scipy.stats.norm.sf((c-b-m)/se)
    [Theory]
    [InlineData(3, 1000, 41, 1000, 0.01, 1.2912357406385021e-05)]
    [InlineData(10, 500, 14, 400, 0.0, 0.09008368442652753)]
    [InlineData(0, 300, 0, 300, 0.01, 0.9837824418878051)]
    public void Rate_test_matches_the_agresti_caffo_hand_computation(long e0, long n0, long e1, long n1, double margin, double expected)
    {
        Assert.Equal(expected, CanaryStatistics.RateWorsePValue(e0, n0, e1, n1, margin), expected * 1e-9);
    }

    [Fact]
    public void Rate_test_refuses_impossible_counts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.RateWorsePValue(5, 4, 0, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.RateWorsePValue(0, 0, 0, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.RateWorsePValue(0, 10, 0, 10, -0.1));
    }

    // Python: 0.5 * math.erfc(((b - c - m) / math.sqrt(vb + vc)) / math.sqrt(2)), the normal tail beyond z.
    [Theory]
    [InlineData(0.80, 0.0004, 0.75, 0.0005, 0.0, 0.04779035227281455)]
    [InlineData(0.80, 0.0004, 0.75, 0.0005, 0.05, 0.5)]
    [InlineData(0.70, 0.0001, 0.75, 0.0003, 0.0, 0.9937903346742238)]
    [InlineData(0.62, 0.0004, 0.43, 0.0005, 0.0, 1.1996022615581984e-10)]
    public void Auc_test_matches_the_z_statistic_by_hand(double b, double vb, double c, double vc, double margin, double expected)
    {
        Assert.Equal(expected, CanaryStatistics.AucWorsePValue(b, vb, c, vc, margin), 1e-9);
    }

    [Fact]
    public void Auc_test_with_no_variance_takes_the_difference_as_exact_and_refuses_impossible_inputs()
    {
        Assert.Equal(0, CanaryStatistics.AucWorsePValue(1, 0, 0.9, 0, 0.05));
        Assert.Equal(1, CanaryStatistics.AucWorsePValue(1, 0, 0.96, 0, 0.05));
        Assert.Equal(1, CanaryStatistics.AucWorsePValue(1, 0, 1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.AucWorsePValue(1.1, 0, 0.5, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.AucWorsePValue(0.5, 0, double.NaN, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.AucWorsePValue(0.5, -0.1, 0.5, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.AucWorsePValue(0.5, 0, 0.5, double.PositiveInfinity, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CanaryStatistics.AucWorsePValue(0.5, 0, 0.5, 0, 1));
    }

    [Fact]
    public void Mann_whitney_matches_scipy_with_ties()
    {
        // scipy.stats.mannwhitneyu(can, prod, alternative='greater', method='asymptotic',
        // use_continuity=True) -> statistic 59.0, pvalue 0.01478678338102459.
        double[] canary = [12.0, 15.5, 15.5, 20.1, 22.0, 22.0, 30.2, 41.0];
        double[] production = [10.0, 11.2, 15.5, 12.9, 22.0, 9.8, 14.0, 13.3, 16.1];

        var (u, p) = CanaryStatistics.MannWhitneyGreater(canary, production);

        Assert.Equal(59.0, u);
        Assert.Equal(0.01478678338102459, p, 1e-12);
    }

    [Fact]
    public void Mann_whitney_finds_no_shift_when_every_value_is_tied_and_refuses_empty_samples()
    {
        Assert.Equal(1.0, CanaryStatistics.MannWhitneyGreater([5.0, 5.0, 5.0], [5.0, 5.0]).PValue);
        Assert.Throws<ArgumentException>(() => CanaryStatistics.MannWhitneyGreater([], [1.0]));
    }

    [Fact]
    public void Mean_test_matches_welchs_statistic_by_hand()
    {
        // Python: mc, mb = np.mean(c), np.mean(b); vc, vb = np.var(c, ddof=1), np.var(b, ddof=1); s = 1.05
        // scipy.stats.norm.sf((mc - s*mb) / math.sqrt(vc/len(c) + s*s*vb/len(b))) = 0.08187235764332462
        double[] candidate = [1.2, 0.4, 2.2, 0.9, 1.7, 0.3, 1.1];
        double[] baseline = [0.8, 0.5, 1.0, 0.7, 0.2, 0.9];

        Assert.Equal(0.08187235764332462, CanaryStatistics.MeanWorsePValue(candidate, baseline, 0.05), 1e-12);
    }

    [Fact]
    public void Mean_test_without_spread_is_certain()
    {
        Assert.Equal(0.0, CanaryStatistics.MeanWorsePValue([1.0, 1.0], [0.0, 0.0], 0));
        Assert.Equal(1.0, CanaryStatistics.MeanWorsePValue([0.0, 0.0], [0.0, 0.0], 0));
    }

    [Fact]
    public void Quantile_interpolates_like_numpy_and_is_null_for_no_values()
    {
        // np.percentile([10.0, 11.2, 15.5, 12.9, 22.0, 9.8, 14.0, 13.3, 16.1], 95) = 19.64
        Assert.Equal(19.64, CanaryStatistics.Quantile([10.0, 11.2, 15.5, 12.9, 22.0, 9.8, 14.0, 13.3, 16.1], 0.95)!.Value, 1e-12);
        Assert.Null(CanaryStatistics.Quantile([], 0.95));
    }
}
