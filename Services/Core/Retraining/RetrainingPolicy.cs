using Flywheel.Core.Schema;

namespace Flywheel.Core.Retraining;

/// <summary>
/// When a model retrains by itself (the <c>retraining</c> part of a model's policy; snake_case
/// JSON, missing fields take the defaults).
/// </summary>
/// <param name="OnDrift">Retrain when the monitor reports drift of a serving version.</param>
/// <param name="OnPerformance">Retrain when the monitor reports the live metric degraded.</param>
/// <param name="Schedule">A cron expression (five fields, UTC) for scheduled retraining; null for none.</param>
/// <param name="CooldownMinutes">After a run starts, further triggers within this many minutes start nothing.</param>
/// <param name="MaxConcurrent">Retraining runs of the model that may be in flight at once.</param>
/// <param name="WindowDays">Train on the last this many days of event time; null trains on all of it.</param>
public sealed record RetrainingPolicy(
    bool OnDrift = true,
    bool OnPerformance = true,
    string? Schedule = null,
    double CooldownMinutes = 60,
    int MaxConcurrent = 1,
    int? WindowDays = null)
{
    public const int MaxWindowDays = 3650;

    public static RetrainingPolicy Default { get; } = new();

    /// <summary>Every setting out of its range, by field, each name under <paramref name="prefix"/>.</summary>
    public IReadOnlyList<FieldError> Validate(string prefix = "retraining")
    {
        var errors = new List<FieldError>();
        if (Schedule is not null && !RetrainingSchedule.TryParse(Schedule, out _, out var problem))
        {
            errors.Add(new($"{prefix}.schedule", problem!));
        }

        if (!(CooldownMinutes >= 0 && CooldownMinutes <= RolloutPolicy.MaxMinutes))
        {
            errors.Add(new($"{prefix}.cooldown_minutes", $"must be 0 to {RolloutPolicy.MaxMinutes} minutes."));
        }

        if (MaxConcurrent is < 1 or > 10)
        {
            errors.Add(new($"{prefix}.max_concurrent", "must be 1 to 10."));
        }

        if (WindowDays is < 1 or > MaxWindowDays)
        {
            errors.Add(new($"{prefix}.window_days", $"must be 1 to {MaxWindowDays} days, or null for all the data."));
        }

        return errors;
    }
}
