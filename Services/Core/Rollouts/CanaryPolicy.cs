using Flywheel.Core.Schema;

namespace Flywheel.Core.Rollouts;

/// <summary>
/// When a canary counts as worse than production (snake_case JSON; missing fields take the defaults).
/// </summary>
/// <param name="MinRequests">Requests each arm must serve before the canary can be promoted.</param>
/// <param name="MinLabelled">
/// Labelled predictions each arm needs before the model metric is compared. Models whose labels
/// never come back (no labels in either arm) are judged without the metric.
/// </param>
/// <param name="ErrorRateMargin">How much higher (absolute, 0.01 = one percentage point) the canary's error rate may be before it counts as worse.</param>
/// <param name="LatencyP95Ratio">How many times production's p95 latency the canary's may reach.</param>
/// <param name="LatencyFloorMs">
/// Extra milliseconds the canary's p95 may always exceed production's by, so at sub-millisecond
/// latencies scheduler jitter alone does not fail the ratio.
/// </param>
/// <param name="MetricMargin">
/// Non-inferiority margin: how much lower (absolute) the canary's accuracy or, for a binary model,
/// its AUC, or how much higher (relative, 0.05 = 5%) its MAE, may be before it counts as worse.
/// </param>
/// <param name="Alpha">Significance level of the checks at the end of the bake period.</param>
/// <param name="EarlyAlpha">
/// Significance level for rolling back before the end. The analysis runs again and again during
/// the bake, and testing each look at <see cref="Alpha"/> would roll back a good canary far more
/// often than <see cref="Alpha"/>; a strict fixed interim boundary (Haybittle 1971, Peto 1976)
/// keeps the overall false-rollback rate close to <see cref="Alpha"/> however often it looks,
/// while a clearly broken canary still crosses it within minutes.
/// </param>
public sealed record CanaryPolicy(
    long MinRequests = 200,
    long MinLabelled = 100,
    double ErrorRateMargin = 0.01,
    double LatencyP95Ratio = 1.25,
    double LatencyFloorMs = 1,
    double MetricMargin = 0,
    double Alpha = 0.05,
    double EarlyAlpha = 0.001)
{
    /// <summary>The tests are large-sample (normal) approximations; below this many observations per arm they are not to be trusted.</summary>
    public const long MinimumSample = 30;

    public static CanaryPolicy Default { get; } = new();

    /// <summary>Every setting out of its range, by field (snake_case).</summary>
    public IReadOnlyList<FieldError> Validate()
    {
        var errors = new List<FieldError>();
        if (MinRequests < MinimumSample)
        {
            errors.Add(new("min_requests", $"must be at least {MinimumSample}: the tests need that many requests per arm."));
        }

        if (MinLabelled < MinimumSample)
        {
            errors.Add(new("min_labelled", $"must be at least {MinimumSample}: the metric test needs that many labels per arm."));
        }

        if (!double.IsFinite(ErrorRateMargin) || ErrorRateMargin < 0 || ErrorRateMargin >= 1)
        {
            errors.Add(new("error_rate_margin", "must be at least 0 and below 1 (an absolute difference in error rate)."));
        }

        if (!double.IsFinite(LatencyP95Ratio) || LatencyP95Ratio < 1)
        {
            errors.Add(new("latency_p95_ratio", "must be a finite number of at least 1 (1.25 lets the canary's p95 be 25% above production's)."));
        }

        if (!double.IsFinite(LatencyFloorMs) || LatencyFloorMs < 0)
        {
            errors.Add(new("latency_floor_ms", "must be a finite number of milliseconds, 0 or more."));
        }

        if (!double.IsFinite(MetricMargin) || MetricMargin < 0 || MetricMargin >= 1)
        {
            errors.Add(new("metric_margin", "must be at least 0 and below 1."));
        }

        var alphaValid = Alpha is > 0 and <= 0.5;
        if (!alphaValid)
        {
            errors.Add(new("alpha", "must be above 0 and at most 0.5."));
        }

        if (!(EarlyAlpha > 0) || EarlyAlpha > 0.5 || (alphaValid && EarlyAlpha > Alpha))
        {
            errors.Add(new("early_alpha", "must be above 0 and at most alpha: stopping early needs at least as strong evidence as the final decision."));
        }

        return errors;
    }
}
