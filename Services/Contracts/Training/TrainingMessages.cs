namespace Flywheel.Contracts.Training;

// Messages of a training run. MassTransit matches them by namespace and type name, so renaming or
// moving one is a breaking change for every service that reads the queue. Events are past tense,
// commands imperative. Every message carries the run id it belongs to (the saga's correlation id).

/// <summary>What a user (or a trigger) asked a training run to do.</summary>
public sealed record TrainingRunSpec(
    string Trainer,
    IReadOnlyDictionary<string, double>? Hyperparameters,
    int SearchTrials,
    DateTimeOffset? From,
    DateTimeOffset? To,
    int Seed);

/// <summary>Published by the registry, in the transaction that records the request.</summary>
public sealed record TrainingRunRequested(
    Guid RunId, string Model, TrainingRunSpec Spec, string Trigger, string RequestedBy, int? ParentVersion, DateTimeOffset RequestedAt);

/// <summary>Orchestrator → registry: freeze the run's point-in-time training rows.</summary>
public sealed record CreateTrainingSnapshot(Guid RunId, string Model, DateTimeOffset? From, DateTimeOffset? To);

public sealed record TrainingSnapshotCreated(Guid RunId, Guid SnapshotId, string Sha256, long Rows, long LabelsJoined, long LabelsUnmatched);

public sealed record TrainingSnapshotFailed(Guid RunId, string Reason);

/// <summary>
/// Orchestrator → trainers (competing consumers): score one hyperparameter candidate on a
/// validation split carved from the training split. With no hyperparameters the trainer samples
/// them from the run's seed and the trial number, so a search is reproducible.
/// </summary>
public sealed record RunTrial(
    Guid RunId, int Trial, string Model, Guid SnapshotId, string Trainer, IReadOnlyDictionary<string, double>? Hyperparameters, int Seed);

public sealed record TrialCompleted(
    Guid RunId, int Trial, string Trainer, IReadOnlyDictionary<string, double> Hyperparameters, string Metric, double Value, bool HigherIsBetter);

public sealed record TrialFailed(Guid RunId, int Trial, string Reason);

/// <summary>Orchestrator → trainers: split, train, evaluate, export, check parity, profile and upload one model.</summary>
public sealed record TrainModel(
    Guid RunId, string Model, Guid SnapshotId, string Trainer, IReadOnlyDictionary<string, double> Hyperparameters, int Seed);

/// <summary>A trainer's progress through the steps of <see cref="TrainModel"/>, for the run's timeline.</summary>
public sealed record TrainingStepProgressed(Guid RunId, string Step, string State, DateTimeOffset At, string? Detail);

public sealed record ModelTrained(
    Guid RunId,
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    ArtifactReference Artifact,
    IReadOnlyDictionary<string, double> Metrics,
    ParityReport Parity,
    SplitReport Split,
    string ReferenceProfileJson,
    string CodeVersion);

public sealed record TrainingFailed(Guid RunId, string Step, string Reason);

/// <summary>Orchestrator → registry: record the trained model as the model's next version.</summary>
public sealed record RegisterModelVersion(
    Guid RunId,
    string Model,
    Guid SnapshotId,
    string SnapshotSha256,
    long Rows,
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    int Seed,
    string Trigger,
    int? ParentVersion,
    ArtifactReference Artifact,
    IReadOnlyDictionary<string, double> Metrics,
    ParityReport Parity,
    SplitReport Split,
    string ReferenceProfileJson,
    string CodeVersion);

public sealed record ModelVersionRegistered(Guid RunId, string Model, int Version);

public sealed record ModelVersionRegistrationFailed(Guid RunId, string Reason);

/// <summary>Published by the orchestrator's watchdog when a run has made no progress for too long.</summary>
public sealed record TrainingRunTimedOut(Guid RunId, string Reason);

public sealed record ArtifactReference(string Uri, string Sha256, long Bytes);

/// <summary>
/// ONNX Runtime vs ML.NET on the held-out rows. The gate is on the relative difference
/// (|a − b| / max(1, |b|)), which equals the absolute one for probabilities and scores up to 1,
/// so a regression model with large targets is not failed for float32 rounding alone.
/// </summary>
public sealed record ParityReport(int Rows, double MaxAbsDiff, double MaxRelDiff, int LabelMismatches, double Tolerance);

public sealed record SplitReport(string Method, long TrainRows, long TestRows);

/// <summary>One step of a run as the API shows it.</summary>
public sealed record TrainingStep(string Name, string State, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Detail);

/// <summary>Step names, in the order a run takes them.</summary>
public static class TrainingSteps
{
    public const string Snapshot = "snapshot";
    public const string Search = "search";
    public const string Split = "split";
    public const string Train = "train";
    public const string Evaluate = "evaluate";
    public const string Export = "export";
    public const string Parity = "parity";
    public const string Profile = "profile";
    public const string Upload = "upload";
    public const string Register = "register";

    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    private static readonly string[] Order = [Snapshot, Search, Split, Train, Evaluate, Export, Parity, Profile, Upload, Register];

    /// <summary>Where a step comes in a run; a name that is not a step comes after all of them.</summary>
    public static int Rank(string step)
    {
        var index = Array.IndexOf(Order, step);
        return index < 0 ? Order.Length : index;
    }
}
