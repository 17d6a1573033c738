using Flywheel.Core.Rollouts;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Retraining;

/// <summary>
/// How a new version of a model reaches production (the <c>rollout</c> part of a model's policy;
/// snake_case JSON, missing fields take the defaults): an optional shadow period, then a canary
/// whose traffic is analysed against production until the bake period ends.
/// </summary>
/// <param name="Auto">Start a rollout by itself when a retraining run registers a version.</param>
/// <param name="ShadowPercent">Share of production requests mirrored to the new version during the shadow period.</param>
/// <param name="ShadowMinutes">How long the new version only shadows before it takes canary traffic; 0 skips the shadow period.</param>
/// <param name="CanaryPercent">Share of traffic the canary answers while it bakes.</param>
/// <param name="BakeMinutes">How long the canary bakes before the analysis is final.</param>
/// <param name="AnalysisIntervalSeconds">How often the canary is analysed during the bake (an early rollback needs a look).</param>
/// <param name="Canary">When the canary counts as worse; null takes <see cref="CanaryPolicy.Default"/>.</param>
public sealed record RolloutPolicy(
    bool Auto = true,
    double ShadowPercent = 100,
    double ShadowMinutes = 0,
    double CanaryPercent = 10,
    double BakeMinutes = 60,
    double AnalysisIntervalSeconds = 60,
    CanaryPolicy? Canary = null)
{
    public const double MaxMinutes = 7 * 24 * 60;

    public static RolloutPolicy Default { get; } = new();

    public CanaryPolicy Thresholds => Canary ?? CanaryPolicy.Default;

    /// <summary>Every setting out of its range, by field, each name under <paramref name="prefix"/>.</summary>
    public IReadOnlyList<FieldError> Validate(string prefix = "rollout")
    {
        var errors = new List<FieldError>();
        if (!(ShadowPercent > 0 && ShadowPercent <= 100))
        {
            errors.Add(new($"{prefix}.shadow_percent", "must be above 0 and at most 100."));
        }

        if (!(ShadowMinutes >= 0 && ShadowMinutes <= MaxMinutes))
        {
            errors.Add(new($"{prefix}.shadow_minutes", $"must be 0 (no shadow period) to {MaxMinutes} minutes."));
        }

        if (!(CanaryPercent > 0 && CanaryPercent < 100))
        {
            errors.Add(new($"{prefix}.canary_percent", "must be above 0 and below 100: the rest stays on production for comparison."));
        }

        if (!(BakeMinutes > 0 && BakeMinutes <= MaxMinutes))
        {
            errors.Add(new($"{prefix}.bake_minutes", $"must be above 0 and at most {MaxMinutes} minutes."));
        }

        if (!(AnalysisIntervalSeconds >= 1 && AnalysisIntervalSeconds <= 3600))
        {
            errors.Add(new($"{prefix}.analysis_interval_seconds", "must be 1 to 3600 seconds."));
        }
        else if (BakeMinutes > 0 && AnalysisIntervalSeconds > BakeMinutes * 60)
        {
            errors.Add(new($"{prefix}.analysis_interval_seconds", "must not exceed the bake period: the canary would never be looked at before it ends."));
        }

        if (Canary is not null)
        {
            errors.AddRange(Canary.Validate().Select(e => e with { Field = $"{prefix}.canary.{e.Field}" }));
        }

        return errors;
    }
}
