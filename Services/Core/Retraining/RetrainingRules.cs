using System.Globalization;

namespace Flywheel.Core.Retraining;

/// <summary>The trigger kinds a training run records (<c>registry.training_requests.trigger</c>).</summary>
public static class RetrainingTriggers
{
    public const string Manual = "manual";
    public const string Schedule = "schedule";
    public const string Drift = "drift";
    public const string Performance = "performance";
}

/// <summary>Whether a trigger starts a run, and why not when it does not.</summary>
public sealed record RetrainingDecision(bool Start, string Reason);

/// <summary>The rules that keep triggers from flooding the trainers: the policy's switches, the cooldown, the concurrency limit.</summary>
public static class RetrainingRules
{
    /// <param name="lastStartedAt">When the model's last retraining run (any trigger) was started; null if never.</param>
    /// <param name="runsInFlight">The model's retraining runs that have not finished.</param>
    public static RetrainingDecision Decide(
        string trigger, RetrainingPolicy policy, DateTimeOffset now, DateTimeOffset? lastStartedAt, int runsInFlight)
    {
        if (trigger == RetrainingTriggers.Drift && !policy.OnDrift)
        {
            return new(false, "retraining on drift is off in the model's policy (retraining.on_drift).");
        }

        if (trigger == RetrainingTriggers.Performance && !policy.OnPerformance)
        {
            return new(false, "retraining on degraded performance is off in the model's policy (retraining.on_performance).");
        }

        if (runsInFlight >= policy.MaxConcurrent)
        {
            return new(false, $"{runsInFlight} retraining run(s) of the model still in flight; the policy allows {policy.MaxConcurrent} at once (retraining.max_concurrent).");
        }

        if (lastStartedAt is { } last && now - last < TimeSpan.FromMinutes(policy.CooldownMinutes))
        {
            var left = TimeSpan.FromMinutes(policy.CooldownMinutes) - (now - last);
            return new(false, string.Create(CultureInfo.InvariantCulture,
                $"within the cooldown: the last retraining run started at {last:u}, {FormatMinutes((now - last).TotalMinutes)} ago; " +
                $"the policy waits {FormatMinutes(policy.CooldownMinutes)} (retraining.cooldown_minutes), {FormatMinutes(left.TotalMinutes)} to go."));
        }

        return new(true, trigger == RetrainingTriggers.Manual ? "requested by an operator." : $"{trigger} trigger within the policy.");
    }

    private static string FormatMinutes(double minutes) =>
        minutes < 1
            ? string.Create(CultureInfo.InvariantCulture, $"{minutes * 60:0} s")
            : string.Create(CultureInfo.InvariantCulture, $"{minutes:0.#} min");
}
