using Flywheel.Contracts.Training;

namespace Flywheel.Contracts.Serving;

/// <summary>
/// Registry → trainers (competing consumers): score every row of the job's input with one model
/// version and write the result CSV to Blob. The input is a snapshot (<see cref="SnapshotId"/>)
/// or an uploaded CSV in the data container (<see cref="InputBlob"/>); the artifact's SHA-256 is
/// checked before a session is created from it. Redelivery resumes after the last chunk written.
/// </summary>
public sealed record ScoreBatch(Guid JobId, string Model, int Version, ArtifactReference Artifact, Guid? SnapshotId, string? InputBlob);

/// <summary>Where batch inputs and results live in <see cref="BlobContainers.Data"/>, and the job states.</summary>
public static class BatchPredictions
{
    public static string InputBlob(Guid jobId) => $"batch-predictions/{jobId}/input.csv";

    public static string ResultBlob(Guid jobId) => $"batch-predictions/{jobId}/result.csv";

    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}
