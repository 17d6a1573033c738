namespace Flywheel.Core.Statistics;

/// <summary>The chi-squared distribution, for the p-value of a chi-squared test.</summary>
public static class ChiSquared
{
    /// <summary>
    /// P(X ≥ <paramref name="statistic"/>) for X chi-squared with <paramref name="degreesOfFreedom"/>
    /// degrees of freedom: the regularized upper incomplete gamma Q(k/2, x/2), as scipy's
    /// <c>chi2.sf(x, k)</c>. A statistic of 0 or less gives 1; +∞ gives 0.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The degrees of freedom are not positive and finite, or the statistic is NaN.</exception>
    public static double Survival(double statistic, double degreesOfFreedom)
    {
        if (!double.IsFinite(degreesOfFreedom) || degreesOfFreedom <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(degreesOfFreedom), degreesOfFreedom, "Degrees of freedom must be positive and finite.");
        }

        if (double.IsNaN(statistic))
        {
            throw new ArgumentOutOfRangeException(nameof(statistic), statistic, "The statistic is NaN.");
        }

        return statistic <= 0 ? 1 : Gamma.UpperRegularized(degreesOfFreedom / 2, statistic / 2);
    }
}

/// <summary>The incomplete gamma function behind <see cref="ChiSquared"/>.</summary>
internal static class Gamma
{
    private const int MaxIterations = 1000;
    private const double Epsilon = 1e-16;
    private const double Tiny = 1e-300;

    /// <summary>
    /// Q(a, x) = Γ(a, x) / Γ(a). Below x = a + 1 the series for P converges fast and Q = 1 - P
    /// loses nothing that matters (Q is near 1 there); above it the continued fraction gives Q
    /// directly, so tiny p-values keep their relative precision (Numerical Recipes §6.2).
    /// </summary>
    public static double UpperRegularized(double a, double x)
    {
        if (double.IsPositiveInfinity(x))
        {
            return 0;
        }

        return x < a + 1 ? 1 - LowerSeries(a, x) : UpperContinuedFraction(a, x);
    }

    private static double LowerSeries(double a, double x)
    {
        double term = 1 / a, sum = term, denominator = a;
        for (var n = 0; n < MaxIterations && Math.Abs(term) > Math.Abs(sum) * Epsilon; n++)
        {
            denominator++;
            term *= x / denominator;
            sum += term;
        }

        return Math.Min(1, sum * Math.Exp((a * Math.Log(x)) - x - LogGamma(a)));
    }

    /// <summary>Lentz's method on the continued fraction for Γ(a, x).</summary>
    private static double UpperContinuedFraction(double a, double x)
    {
        var b = x + 1 - a;
        var c = 1 / Tiny;
        var d = 1 / b;
        var h = d;
        for (var i = 1; i <= MaxIterations; i++)
        {
            var an = -i * (i - a);
            b += 2;
            d = (an * d) + b;
            d = Math.Abs(d) < Tiny ? Tiny : d;
            c = b + (an / c);
            c = Math.Abs(c) < Tiny ? Tiny : c;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < Epsilon)
            {
                break;
            }
        }

        return Math.Exp((a * Math.Log(x)) - x - LogGamma(a)) * h;
    }

    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
        1.5056327351493116e-7,
    ];

    /// <summary>ln Γ(x) for x &gt; 0 by the Lanczos approximation (g = 7, nine terms; about 15 digits).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5)
        {
            // Reflection keeps the approximation in the region where it is accurate.
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        x -= 1;
        var sum = Lanczos[0];
        for (var i = 1; i < Lanczos.Length; i++)
        {
            sum += Lanczos[i] / (x + i);
        }

        var t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }
}
