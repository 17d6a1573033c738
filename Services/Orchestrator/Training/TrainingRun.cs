using System.Text.Json.Serialization;
using Flywheel.Contracts.Training;
using Flywheel.Orchestrator.Sagas;

namespace Flywheel.Orchestrator.Training;

/// <summary>The state of one training run, kept in <c>orchestration.training_runs</c>.</summary>
public sealed class TrainingRun : IPersistedSaga
{
    public Guid CorrelationId { get; set; }

    public string CurrentState { get; set; } = null!;

    public int Version { get; set; }

    [JsonIgnore]
    public List<object> Outgoing { get; } = [];

    public string Model { get; set; } = null!;

    public TrainingRunSpec Spec { get; set; } = null!;

    public string Trigger { get; set; } = null!;

    public string RequestedBy { get; set; } = null!;

    public int? ParentVersion { get; set; }

    public DateTimeOffset RequestedAt { get; set; }

    public Guid? SnapshotId { get; set; }

    public string? SnapshotSha256 { get; set; }

    public long Rows { get; set; }

    public int TrialsPlanned { get; set; }

    public List<TrialOutcome> Trials { get; set; } = [];

    public string? Trainer { get; set; }

    public Dictionary<string, double>? Hyperparameters { get; set; }

    public ModelTrained? Result { get; set; }

    public int? ModelVersion { get; set; }

    public string? Error { get; set; }

    public List<TrainingStep> Steps { get; set; } = [];

    /// <summary>
    /// Moves a step forward; a late or repeated report never moves a finished step back to running.
    /// A new step takes its place in the run's order, not the order its report was applied in: the
    /// trainer's reports are messages consumed concurrently, and two sent a moment apart (one step
    /// finishing, the next starting) take the run's row lock in either order.
    /// </summary>
    public void Record(string step, string state, DateTimeOffset at, string? detail = null)
    {
        var index = Steps.FindIndex(s => s.Name == step);
        if (index < 0)
        {
            var rank = TrainingSteps.Rank(step);
            var before = Steps.FindIndex(s => TrainingSteps.Rank(s.Name) > rank);
            Steps.Insert(before < 0 ? Steps.Count : before, new TrainingStep(step, state, at, state == TrainingSteps.Running ? null : at, detail));
            return;
        }

        var current = Steps[index];
        if (current.State != TrainingSteps.Running && state == TrainingSteps.Running)
        {
            return;
        }

        Steps[index] = current with
        {
            State = state,
            StartedAt = current.StartedAt ?? at,
            FinishedAt = state == TrainingSteps.Running ? null : at,
            Detail = detail ?? current.Detail,
        };
    }
}

/// <summary>One hyperparameter-search trial: its score on the validation split, or why it failed.</summary>
public sealed record TrialOutcome(
    int Trial, string? Trainer, IReadOnlyDictionary<string, double>? Hyperparameters, string? Metric, double? Value, bool HigherIsBetter, string? Error);
