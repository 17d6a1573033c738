using System.Text.Json.Serialization;
using Flywheel.Core.Retraining;
using Flywheel.Core.Rollouts;
using Flywheel.Orchestrator.Sagas;

namespace Flywheel.Orchestrator.Rollouts;

/// <summary>The state of one rollout, kept in <c>orchestration.rollouts</c>.</summary>
public sealed class Rollout : IPersistedSaga
{
    public Guid CorrelationId { get; set; }

    public string CurrentState { get; set; } = null!;

    public int Version { get; set; }

    [JsonIgnore]
    public List<object> Outgoing { get; } = [];

    public string Model { get; set; } = null!;

    /// <summary>The model version rolled out (<see cref="Version"/> is the row's optimistic-concurrency counter).</summary>
    public int RolloutVersion { get; set; }

    /// <summary>The production version when the rollout began: the comparison and the rollback target.</summary>
    public int Production { get; set; }

    public RolloutPolicy Policy { get; set; } = RolloutPolicy.Default;

    public bool RequireApproval { get; set; }

    public string Trigger { get; set; } = null!;

    public string RequestedBy { get; set; } = null!;

    public DateTimeOffset RequestedAt { get; set; }

    public DateTimeOffset? ShadowStartedAt { get; set; }

    public DateTimeOffset? ShadowEndsAt { get; set; }

    public DateTimeOffset? CanaryStartedAt { get; set; }

    public DateTimeOffset? BakeEndsAt { get; set; }

    /// <summary>When the analyst should look next; null while no look is due (before the canary is in place, after a decision).</summary>
    public DateTimeOffset? NextAnalysisAt { get; set; }

    /// <summary>The passing verdict held for approval, or the reason the rollout ended.</summary>
    public string? Reason { get; set; }

    public List<RolloutEvent> Timeline { get; set; } = [];

    public List<RolloutAnalysis> Analyses { get; set; } = [];

    public void Record(DateTimeOffset at, string name, string detail) => Timeline.Add(new RolloutEvent(at, name, detail));
}

public sealed record RolloutEvent(DateTimeOffset At, string Event, string Detail);

public sealed record RolloutAnalysis(
    DateTimeOffset At, bool BakeComplete, CanaryOutcome Outcome, string Reason, IReadOnlyList<CanaryCheck> Checks, long ProductionRequests, long CanaryRequests);
