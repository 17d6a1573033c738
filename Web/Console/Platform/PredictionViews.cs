using System.Text.Json;

namespace Flywheel.Console.Platform;

/// <summary>
/// A logged prediction as <c>GET /api/predictions/{id}</c> gives it. <see cref="Inputs"/> and
/// <see cref="Outputs"/> stay raw JSON: they are shown as logged (PII already hashed or dropped).
/// </summary>
public sealed record PredictionView(
    Guid PredictionId,
    DateTimeOffset At,
    string Model,
    int Version,
    bool Shadow,
    string? EntityId,
    string? Caller,
    int LatencyUs,
    int BatchSize,
    JsonElement Inputs,
    JsonElement Outputs,
    PredictionFeedbackView? Feedback,
    PredictionLineageView? Lineage);

/// <summary>The label that came back; <see cref="Joined"/> false: stored by id but not counted (a shadow's).</summary>
public sealed record PredictionFeedbackView(JsonElement Label, DateTimeOffset ReceivedAt, string MatchedBy, bool Joined, string? Caller);

public sealed record PredictionLineageView(
    int Version,
    DateTimeOffset VersionCreatedAt,
    int? ParentVersion,
    string CodeVersion,
    LineageRunView TrainingRun,
    LineageSnapshotView Snapshot);

public sealed record LineageRunView(
    Guid RunId,
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    int Seed,
    string Trigger,
    string? RequestedBy,
    DateTimeOffset? RequestedAt);

public sealed record LineageSnapshotView(Guid SnapshotId, string Sha256, long Rows, DateTimeOffset? WindowFrom, DateTimeOffset? WindowTo, DateTimeOffset? CreatedAt);
