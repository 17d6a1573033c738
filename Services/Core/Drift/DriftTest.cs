namespace Flywheel.Core.Drift;

/// <summary>
/// How a feature's window is compared with its reference. The p-value tests
/// (<see cref="KolmogorovSmirnov"/> for numbers, <see cref="ChiSquared"/> for categories) suit small
/// windows; on large ones they call any difference, however small, significant, so the distances
/// (<see cref="Wasserstein"/>, <see cref="JensenShannon"/>) take over. <see cref="Psi"/> is there for
/// those who know its thresholds.
/// </summary>
public enum DriftTest
{
    /// <summary>Two-sample Kolmogorov-Smirnov p-value; numeric only. Drift when p &lt; threshold.</summary>
    KolmogorovSmirnov,

    /// <summary>Pearson chi-squared goodness-of-fit p-value over categories or histogram bins. Drift when p &lt; threshold.</summary>
    ChiSquared,

    /// <summary>1-Wasserstein distance divided by the reference's standard deviation; numeric only. Drift when ≥ threshold.</summary>
    Wasserstein,

    /// <summary>Jensen-Shannon distance (base 2, in [0, 1]) over categories or histogram bins. Drift when ≥ threshold.</summary>
    JensenShannon,

    /// <summary>Population stability index over categories or histogram bins. Drift when ≥ threshold.</summary>
    Psi,
}
