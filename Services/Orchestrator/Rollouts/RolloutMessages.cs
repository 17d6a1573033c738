using Flywheel.Core.Retraining;
using Flywheel.Core.Rollouts;

namespace Flywheel.Orchestrator.Rollouts;

// The orchestrator's own rollout messages: nothing outside it reads them.

/// <summary>
/// Starts a rollout with everything it will need, read once when it was requested: the production
/// version it is compared with and rolled back to, and the model's rollout policy then (a later
/// policy change applies to the next rollout). With a <see cref="Refusal"/> the rollout is recorded
/// as failed at once, so every request shows up with its outcome.
/// </summary>
public sealed record BeginRollout(
    Guid RolloutId, string Model, int Version, int Production, RolloutPolicy Policy, bool RequireApproval, string Trigger, string RequestedBy,
    DateTimeOffset RequestedAt, string? Refusal);

/// <summary>The shadow period of a rollout is over; the new version takes canary traffic.</summary>
public sealed record ShadowPeriodEnded(Guid RolloutId, DateTimeOffset At);

/// <summary>One analysis of a canary: the evidence's size and the verdict.</summary>
public sealed record CanaryAnalysed(
    Guid RolloutId, DateTimeOffset At, bool BakeComplete, CanaryVerdict Verdict, long ProductionRequests, long CanaryRequests);
