using Flywheel.Contracts.Training;

namespace Flywheel.Contracts.Rollouts;

// Messages of retraining and rollouts. MassTransit matches them by namespace and type name, so
// renaming or moving one is a breaking change for every service that reads the queue.

/// <summary>
/// Registry → orchestrator: an operator asked for a retrain (<c>POST /api/models/{model}/retrain</c>).
/// The orchestrator decides, like for any trigger, whether the cooldown and concurrency limit let it start.
/// </summary>
public sealed record RetrainingRequested(Guid RequestId, string Model, string RequestedBy, string? Reason, DateTimeOffset RequestedAt);

/// <summary>
/// Orchestrator → registry: record a training request and start it, exactly as
/// <c>POST /api/models/{model}/training-runs</c> does, with the trigger that caused it.
/// </summary>
public sealed record RequestTrainingRun(
    Guid RunId, string Model, TrainingRunSpec Spec, string Trigger, string RequestedBy, int? ParentVersion, string Reason, DateTimeOffset RequestedAt);

/// <summary>Registry → orchestrator: an operator asked to roll <paramref name="Version"/> out (<c>POST /api/models/{model}/rollouts</c>).</summary>
public sealed record RolloutRequested(Guid RolloutId, string Model, int Version, string Trigger, string RequestedBy, DateTimeOffset RequestedAt);

/// <summary>Registry → orchestrator: an operator approved the passing canary of a rollout that awaits approval.</summary>
public sealed record RolloutApproved(Guid RolloutId, string Actor, string? Reason, DateTimeOffset At);

/// <summary>Registry → orchestrator: an operator rejected the canary of a rollout that awaits approval; it rolls back.</summary>
public sealed record RolloutRejected(Guid RolloutId, string Actor, string? Reason, DateTimeOffset At);

/// <summary>
/// Orchestrator → registry: set the model's traffic, as <c>PUT /api/models/{model}/deployment</c>
/// would, with the orchestrator as the actor and <paramref name="Reason"/> in the history. Refused
/// when production is no longer <paramref name="ExpectedProduction"/> (an operator changed it meanwhile).
/// </summary>
/// <param name="Step">Which step of the rollout this is (<see cref="RolloutSteps"/>), echoed in the answer.</param>
/// <param name="Action">The history's action (<c>deploy</c>, <c>promote</c>, <c>rollback</c>).</param>
public sealed record ChangeTraffic(
    Guid RolloutId,
    string Step,
    string Model,
    int ExpectedProduction,
    int Production,
    int? CanaryVersion,
    double? CanaryPercent,
    int? ShadowVersion,
    double? ShadowPercent,
    string Action,
    string Reason);

/// <summary>Registry → orchestrator: the traffic of a <see cref="ChangeTraffic"/> is in place (revision written, data plane notified).</summary>
public sealed record TrafficChanged(Guid RolloutId, string Step, string Model, long Revision, DateTimeOffset At);

/// <summary>Registry → orchestrator: a <see cref="ChangeTraffic"/> could not be applied, and why.</summary>
public sealed record TrafficChangeRefused(Guid RolloutId, string Step, string Model, string Reason);

/// <summary>Steps of a rollout that change traffic.</summary>
public static class RolloutSteps
{
    public const string Shadow = "shadow";
    public const string Canary = "canary";
    public const string Promote = "promote";
    public const string RollBack = "rollback";
}
