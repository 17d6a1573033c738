namespace Flywheel.Core.Statistics;

/// <summary>The Kolmogorov distribution, for the p-value of a Kolmogorov-Smirnov test.</summary>
public static class Kolmogorov
{
    /// <summary>
    /// The asymptotic two-sided p-value of a KS distance <paramref name="d"/> between samples of
    /// effective size <paramref name="effectiveN"/> = n·m/(n+m): P(K ≥ √n_eff · d) for K with the
    /// limiting Kolmogorov distribution, as scipy's <c>kstwobign.sf(sqrt(en) * d)</c>. No
    /// finite-sample correction is applied, so for small samples the p-value is slightly
    /// conservative (a little larger than the exact one).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">d is NaN, or the effective size is not positive and finite.</exception>
    public static double Survival(double d, double effectiveN)
    {
        if (double.IsNaN(d))
        {
            throw new ArgumentOutOfRangeException(nameof(d), d, "The distance is NaN.");
        }

        if (!double.IsFinite(effectiveN) || effectiveN <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(effectiveN), effectiveN, "The effective sample size must be positive and finite.");
        }

        return LimitingSurvival(Math.Sqrt(effectiveN) * d);
    }

    /// <summary>
    /// Q(λ) = 2 Σ (-1)^(k-1) exp(-2k²λ²). That alternating series converges in a few terms for
    /// large λ but needs many (and cancels) for small λ, where the Jacobi-theta form of the CDF,
    /// √(2π)/λ Σ exp(-(2k-1)²π²/(8λ²)), converges fast instead; 1.18 is where both need few terms.
    /// </summary>
    public static double LimitingSurvival(double lambda)
    {
        if (lambda <= 0)
        {
            return 1;
        }

        if (lambda < 1.18)
        {
            var factor = -Math.PI * Math.PI / (8 * lambda * lambda);
            double cdf = 0;
            for (var k = 1; k <= 20; k++)
            {
                var odd = (2 * k) - 1;
                var term = Math.Exp(factor * odd * odd);
                cdf += term;
                if (term < 1e-17 * cdf)
                {
                    break;
                }
            }

            return Math.Clamp(1 - (Math.Sqrt(2 * Math.PI) / lambda * cdf), 0, 1);
        }

        double survival = 0;
        var sign = 1.0;
        for (var k = 1; k <= 100; k++)
        {
            var term = Math.Exp(-2.0 * k * k * lambda * lambda);
            survival += sign * term;
            sign = -sign;
            if (term < 1e-17 * survival)
            {
                break;
            }
        }

        return Math.Clamp(2 * survival, 0, 1);
    }
}
