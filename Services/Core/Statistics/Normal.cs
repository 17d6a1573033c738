namespace Flywheel.Core.Statistics;

/// <summary>
/// The standard normal distribution to about double precision, including the far tails where
/// p-values of strong evidence live: a naive 1 - Cdf(z) loses every digit past z = 8, so callers
/// ask for <c>Cdf(-z)</c> instead, which stays relatively accurate down to 1e-300.
/// </summary>
public static class Normal
{
    private const double Sqrt2 = 1.4142135623730950488;
    private const double SqrtTwoPi = 2.5066282746310005024;

    /// <summary>P(Z ≤ z); 0 and 1 at the infinities, NaN for NaN.</summary>
    public static double Cdf(double z) => double.IsNaN(z) ? double.NaN : 0.5 * Erfc(-z / Sqrt2);

    /// <summary>The density at <paramref name="z"/>.</summary>
    public static double Pdf(double z) => Math.Exp(-0.5 * z * z) / SqrtTwoPi;

    /// <summary>
    /// The z with <c>Cdf(z) = p</c>: P. J. Acklam's rational approximation (relative error 1.15e-9)
    /// polished by one Halley step against <see cref="Cdf"/>, which brings it to about 1e-15. Lower
    /// half only, mirrored for the upper: 1 - p is exact for p ≥ 0.5, so no digits are lost there.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is NaN or outside [0, 1].</exception>
    public static double Quantile(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "A probability must be in [0, 1].");
        }

        return p > 0.5 ? -LowerQuantile(1 - p) : LowerQuantile(p);
    }

    private static double LowerQuantile(double p)
    {
        if (p == 0)
        {
            return double.NegativeInfinity;
        }

        double x;
        if (p < 0.02425)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
                / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1);
        }
        else
        {
            var q = p - 0.5;
            var r = q * q;
            x = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q
                / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1);
        }

        // Halley's step on Cdf(x) - p = 0; below about 1e-300 the density underflows and the
        // approximation is kept as it is.
        var density = Pdf(x);
        if (density > 0)
        {
            var u = (Cdf(x) - p) / density;
            x -= u / (1 + (x * u / 2));
        }

        return x;
    }

    /// <summary>
    /// The complementary error function by W. J. Cody's rational Chebyshev approximations
    /// (Math. Comp. 23, 1969; the CALERF routine of SPECFUN, 1990), accurate to about 1e-16
    /// relative. exp(-x²) is split as exp(-y²)·exp(-(x-y)(x+y)) with y = x rounded down to
    /// sixteenths, so squaring x does not cost digits in the tail.
    /// </summary>
    private static double Erfc(double x)
    {
        var y = Math.Abs(x);
        double result;
        if (y <= 0.46875)
        {
            var ysq = y > 1.11e-16 ? y * y : 0;
            var num = 1.85777706184603153e-1 * ysq;
            var den = ysq;
            num = (num + 3.16112374387056560e00) * ysq;
            den = (den + 2.36012909523441209e01) * ysq;
            num = (num + 1.13864154151050156e02) * ysq;
            den = (den + 2.44024637934444173e02) * ysq;
            num = (num + 3.77485237685302021e02) * ysq;
            den = (den + 1.28261652607737228e03) * ysq;
            var erf = x * (num + 3.20937758913846947e03) / (den + 2.84423683343917062e03);
            return 1 - erf;
        }

        if (y <= 4)
        {
            double[] c = [5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03];
            double[] d = [1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03];
            var num = 2.15311535474403846e-8 * y;
            var den = y;
            for (var i = 0; i < 7; i++)
            {
                num = (num + c[i]) * y;
                den = (den + d[i]) * y;
            }

            result = (num + 1.23033935479799725e03) / (den + 1.23033935480374942e03);
            result *= ScaledGaussian(y);
        }
        else if (y >= 26.543)
        {
            // erfc underflows past here.
            result = 0;
        }
        else
        {
            double[] p = [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2];
            double[] q = [2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2];
            var ysq = 1 / (y * y);
            var num = 1.63153871373020978e-2 * ysq;
            var den = ysq;
            for (var i = 0; i < 4; i++)
            {
                num = (num + p[i]) * ysq;
                den = (den + q[i]) * ysq;
            }

            result = ysq * (num + 6.58749161529837803e-4) / (den + 2.33520497626869185e-3);
            result = (5.6418958354775628695e-1 - result) / y;
            result *= ScaledGaussian(y);
        }

        return x < 0 ? 2 - result : result;
    }

    private static double ScaledGaussian(double y)
    {
        var rounded = Math.Truncate(y * 16) / 16;
        var del = (y - rounded) * (y + rounded);
        return Math.Exp(-rounded * rounded) * Math.Exp(-del);
    }
}
