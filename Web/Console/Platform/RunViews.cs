namespace Flywheel.Console.Platform;

public sealed record TrainingRunList(IReadOnlyList<TrainingRunView> Runs);

/// <summary>A training run as <c>GET /api/training-runs/{run_id}</c> shows it; <see cref="State"/> is queued, running, succeeded or failed.</summary>
public sealed record TrainingRunView(
    Guid RunId,
    string Model,
    string State,
    string? Phase,
    RunSpecView? Spec,
    string? Trigger,
    string? RequestedBy,
    DateTimeOffset RequestedAt,
    DateTimeOffset? UpdatedAt,
    IReadOnlyList<RunStepView> Steps,
    IReadOnlyList<TrialView> Trials,
    Guid? SnapshotId,
    string? SnapshotSha256,
    string? Trainer,
    IReadOnlyDictionary<string, double>? Hyperparameters,
    IReadOnlyDictionary<string, double>? Metrics,
    string? Error,
    int? Version);

public sealed record RunSpecView(
    string? Trainer,
    IReadOnlyDictionary<string, double>? Hyperparameters,
    int SearchTrials,
    DateTimeOffset? From,
    DateTimeOffset? To,
    int? Seed);

public sealed record RunStepView(string Name, string State, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Detail);

public sealed record TrialView(int Trial, string? Trainer, IReadOnlyDictionary<string, double>? Hyperparameters, string? Metric, double? Value, string? Error);
