using System.Text.Json;

namespace Flywheel.Console.Platform;

public sealed record SnapshotView(
    Guid SnapshotId,
    string Model,
    DateTimeOffset? From,
    DateTimeOffset? To,
    long Rows,
    string Sha256,
    bool? Verified,
    long LabelsJoined,
    long LabelsUnmatched);

/// <summary>One upload or event batch as the model's ingestion list shows it.</summary>
public sealed record IngestionListItemView(
    Guid IngestionId, string Format, string State, long Accepted, long Rejected, long Duplicates, string? Error,
    DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string CreatedBy);

public sealed record IngestionListView(IReadOnlyList<IngestionListItemView> Ingestions);

/// <summary>An ingestion's validation report and one page of its quarantine. <see cref="Report"/> is read by <c>Data.IngestionReportSummary</c>.</summary>
public sealed record IngestionView(
    Guid IngestionId,
    string Model,
    string Format,
    string State,
    long Accepted,
    long Rejected,
    long Duplicates,
    JsonElement? Report,
    string? Error,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<QuarantineEntryView> Quarantine);

/// <summary>
/// A quarantined row's line and what was wrong with it. The row's values are deliberately not
/// read: they may hold PII, and the console shows where and why a row failed, not what it held.
/// </summary>
public sealed record QuarantineEntryView(long Line, IReadOnlyList<FieldErrorView> Errors);

public sealed record FieldErrorView(string Field, string Message, string? Code);
