using Flywheel.Core.Monitoring;

namespace Flywheel.Core.Tests.Monitoring;

public sealed class ConfidenceIntervalsTests
{
    // Newcombe, "Two-sided confidence intervals for the single proportion", Stat. Med. 17 (1998),
    // Table I, method 3 (Wilson score, no continuity correction), printed to 4 decimals.
    [Theory]
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0000, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    public void Wilson_reproduces_newcombes_published_examples(long successes, long trials, double low, double high)
    {
        var interval = ConfidenceIntervals.Wilson(successes, trials, 0.95);

        Assert.Equal(low, interval.Low, 0.00005);
        Assert.Equal(high, interval.High, 0.00005);
    }

    [Fact]
    public void Wilson_matches_the_formula_to_full_precision_and_ends_at_1_for_all_successes()
    {
        // Python: p=x/n; z=scipy.stats.norm.ppf(0.975); d=1+z*z/n; c=(p+z*z/(2*n))/d;
        // h=z/d*math.sqrt(p*(1-p)/n+z*z/(4*n*n)); (c-h, c+h)
        var interval = ConfidenceIntervals.Wilson(81, 263, 0.95);
        Assert.Equal(0.2552885198782742, interval.Low, 1e-12);
        Assert.Equal(0.36620957698280004, interval.High, 1e-12);

        var all = ConfidenceIntervals.Wilson(29, 29, 0.95);
        Assert.Equal(0.8830302015002593, all.Low, 1e-12);
        Assert.Equal(1.0, all.High);
    }

    [Fact]
    public void Wilson_covers_the_true_proportion_at_about_its_nominal_rate()
    {
        var random = new Random(11);
        const double truth = 0.9;
        var covered = 0;
        for (var replication = 0; replication < 500; replication++)
        {
            var successes = Enumerable.Range(0, 120).Count(_ => random.NextDouble() < truth);
            var interval = ConfidenceIntervals.Wilson(successes, 120, 0.95);
            covered += interval.Low <= truth && truth <= interval.High ? 1 : 0;
        }

        Assert.InRange(covered / 500.0, 0.92, 0.98);
    }

    [Fact]
    public void DeLong_on_hanley_and_mcneils_ct_ratings_gives_their_auc_and_a_variance_from_every_pair()
    {
        // Hanley and McNeil, Radiology 143 (1982), Table 1: five-point ratings of 58 normal and 51
        // abnormal CT images; they report AUC 0.893 (their SE 0.032 assumes exponential-like scores).
        // Variance reference, brute force over all pairs in Python with psi(x, y) = 1, 0.5, 0:
        // v10 = [mean(psi(x, y) for y in neg) for x in pos]; v01 = [mean(psi(x, y) for x in pos) for y in neg]
        // var = np.var(v10, ddof=1)/51 + np.var(v01, ddof=1)/58 = 0.0009439892702629848.
        var labels = new List<bool>();
        var scores = new List<double>();
        int[] normal = [33, 6, 6, 11, 2], abnormal = [3, 2, 2, 11, 33];
        for (var rating = 1; rating <= 5; rating++)
        {
            labels.AddRange(Enumerable.Repeat(false, normal[rating - 1]));
            scores.AddRange(Enumerable.Repeat((double)rating, normal[rating - 1]));
            labels.AddRange(Enumerable.Repeat(true, abnormal[rating - 1]));
            scores.AddRange(Enumerable.Repeat((double)rating, abnormal[rating - 1]));
        }

        var (auc, variance) = ConfidenceIntervals.DeLongAuc(labels, scores);

        Assert.Equal(0.893, auc, 0.0005);
        Assert.Equal(0.8931710615280596, auc, 1e-12);
        Assert.Equal(0.0009439892702629848, variance, 1e-15);
    }

    [Fact]
    public void DeLong_agrees_with_the_pairwise_definition_on_data_full_of_ties()
    {
        var random = new Random(3);
        var labels = Enumerable.Range(0, 300).Select(_ => random.NextDouble() < 0.35).ToArray();
        var scores = labels.Select(l => Math.Round(Math.Clamp((l ? 0.2 : 0) + random.NextDouble(), 0, 1), 1)).ToArray();
        var positives = scores.Where((_, i) => labels[i]).ToArray();
        var negatives = scores.Where((_, i) => !labels[i]).ToArray();
        static double Psi(double x, double y) => x > y ? 1 : x == y ? 0.5 : 0;
        var v10 = positives.Select(x => negatives.Average(y => Psi(x, y))).ToArray();
        var v01 = negatives.Select(y => positives.Average(x => Psi(x, y))).ToArray();
        static double Variance(double[] v) => v.Sum(x => (x - v.Average()) * (x - v.Average())) / (v.Length - 1);

        var (auc, variance) = ConfidenceIntervals.DeLongAuc(labels, scores);

        Assert.Equal(v10.Average(), auc, 1e-12);
        Assert.Equal((Variance(v10) / v10.Length) + (Variance(v01) / v01.Length), variance, 1e-15);
    }

    [Fact]
    public void DeLong_needs_two_rows_of_each_class()
    {
        Assert.Throws<ArgumentException>(() => ConfidenceIntervals.DeLongAuc([true, false, false], [0.9, 0.1, 0.2]));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void A_confidence_outside_0_1_is_refused(double confidence)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfidenceIntervals.Wilson(5, 10, confidence));
    }
}
