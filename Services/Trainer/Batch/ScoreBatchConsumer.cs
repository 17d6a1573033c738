using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Flywheel.Contracts;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Artifacts;
using Flywheel.Trainer.Jobs;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Trainer.Batch;

/// <summary>
/// Scores a batch job: checks the artifact's SHA-256 before any session exists, scores the input
/// in chunks of <see cref="BatchScoringOptions.ChunkRows"/>, and stages each chunk's CSV as one
/// block of the result blob under a block id derived from the chunk index, reporting
/// <c>rows_done</c> after each. A redelivered job (its trainer died) lists the blob's uncommitted
/// blocks and carries on after the last chunk staged in order; a chunk staged again replaces its
/// block, so the result never holds a row twice. The block list is committed once, in chunk order,
/// then the result's hash and size are recorded and the job succeeds. A problem with the job itself
/// (a tampered artifact, a bad input row) fails it with its reason; anything else is retried by
/// redelivery (<see cref="TrainerJobDefinition{TConsumer}"/>).
/// </summary>
public sealed partial class ScoreBatchConsumer(
    NpgsqlDataSource database, BlobServiceClient blobs, SnapshotReader snapshots, IOptions<BatchScoringOptions> options, ILogger<ScoreBatchConsumer> logger)
    : IConsumer<ScoreBatch>
{
    public async Task Consume(ConsumeContext<ScoreBatch> context)
    {
        var job = context.Message;
        var cancellationToken = context.CancellationToken;
        if (await StateAsync(job.JobId, cancellationToken) is not (BatchPredictions.Queued or BatchPredictions.Running))
        {
            return;
        }

        try
        {
            await ScoreAsync(job, cancellationToken);
        }
        catch (Exception exception) when (exception is BatchScoringException or Flywheel.Training.TrainingException)
        {
            LogJobFailed(job.JobId, exception.Message);
            await ExecuteAsync("""
                UPDATE registry.batch_predictions SET state = 'failed', error = $2, finished_at = now()
                WHERE job_id = $1 AND state IN ('queued', 'running')
                """, cancellationToken, job.JobId, exception.Message);
        }
    }

    private async Task ScoreAsync(ScoreBatch job, CancellationToken cancellationToken)
    {
        var onnx = await VerifiedArtifactAsync(job, cancellationToken);
        var schema = await snapshots.ReadSchemaAsync(job.Model, cancellationToken);
        var input = job.SnapshotId is { } snapshotId
            ? await BatchInput.FromSnapshotAsync(database, snapshotId, schema, cancellationToken)
            : await BatchInput.FromUploadAsync(blobs, job.InputBlob ?? throw new BatchScoringException("the job names no input"), schema, cancellationToken);
        using var scorer = new BatchScorer(onnx, schema);

        var result = blobs.GetBlobContainerClient(BlobContainers.Data).GetBlockBlobClient(BatchPredictions.ResultBlob(job.JobId));
        var chunkRows = options.Value.ChunkRows;
        var chunks = Math.Max(1, (input.Rows.Count + chunkRows - 1) / chunkRows);
        var resumeAt = await StagedChunksAsync(result, chunks, cancellationToken);
        if (resumeAt > 0)
        {
            LogResuming(job.JobId, resumeAt, chunks);
        }

        await ExecuteAsync("""
            UPDATE registry.batch_predictions SET state = 'running', started_at = coalesce(started_at, now()), rows_total = $2, rows_done = $3
            WHERE job_id = $1 AND state IN ('queued', 'running')
            """, cancellationToken, job.JobId, (long)input.Rows.Count, (long)Math.Min(input.Rows.Count, resumeAt * chunkRows));

        for (var chunk = resumeAt; chunk < chunks; chunk++)
        {
            var start = chunk * chunkRows;
            var count = Math.Min(chunkRows, input.Rows.Count - start);
            var csv = new StringBuilder();
            if (chunk == 0)
            {
                AppendRecord(csv, [.. input.Columns, .. scorer.Columns]);
            }

            var scored = count > 0 ? scorer.Score(input.Rows, start, count) : [];
            for (var i = 0; i < count; i++)
            {
                AppendRecord(csv, [.. input.Raw[start + i], .. scored[i]]);
            }

            using (var block = new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())))
            {
                await result.StageBlockAsync(BlockId(chunk), block, cancellationToken: cancellationToken);
            }

            await ExecuteAsync("UPDATE registry.batch_predictions SET rows_done = $2 WHERE job_id = $1 AND state = 'running'",
                cancellationToken, job.JobId, (long)(start + count));
        }

        await result.CommitBlockListAsync(Enumerable.Range(0, chunks).Select(BlockId), new CommitBlockListOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv; charset=utf-8" },
            Metadata = new Dictionary<string, string> { ["job_id"] = job.JobId.ToString(), ["model"] = job.Model, ["version"] = job.Version.ToString(CultureInfo.InvariantCulture) },
        }, cancellationToken);

        var (sha256, bytes) = await HashAsync(result, cancellationToken);
        await ExecuteAsync("""
            UPDATE registry.batch_predictions
            SET state = 'succeeded', rows_done = rows_total, result_uri = $2, result_sha256 = $3, result_bytes = $4, finished_at = now()
            WHERE job_id = $1 AND state = 'running'
            """, cancellationToken, job.JobId, result.Uri.AbsoluteUri, sha256, bytes);
        LogJobSucceeded(job.JobId, input.Rows.Count, chunks);
    }

    /// <summary>
    /// The chunks, from the first on, an earlier delivery already wrote: staged (uncommitted)
    /// blocks, or all of them when that delivery got as far as committing the list.
    /// </summary>
    private static async Task<int> StagedChunksAsync(BlockBlobClient result, int chunks, CancellationToken cancellationToken)
    {
        BlockList blocks;
        try
        {
            blocks = (await result.GetBlockListAsync(BlockListTypes.All, cancellationToken: cancellationToken)).Value;
        }
        catch (Azure.RequestFailedException exception) when (exception.Status == 404)
        {
            return 0;
        }

        var staged = blocks.UncommittedBlocks.Concat(blocks.CommittedBlocks).Select(b => b.Name).ToHashSet(StringComparer.Ordinal);
        var next = 0;
        while (next < chunks && staged.Contains(BlockId(next)))
        {
            next++;
        }

        return next;
    }

    /// <summary>Block ids must be Base64 of equal length within a blob; the chunk index, zero-padded, gives both.</summary>
    public static string BlockId(int chunk) => Convert.ToBase64String(Encoding.ASCII.GetBytes($"chunk-{chunk:D8}"));

    private async Task<byte[]> VerifiedArtifactAsync(ScoreBatch job, CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(BlobContainers.Models);
        var name = ArtifactLocation.BlobName(container.Uri, job.Artifact.Uri)
            ?? throw new BatchScoringException($"the artifact of {job.Model} version {job.Version} is not in the models container: {job.Artifact.Uri}");
        var content = (await container.GetBlobClient(name).DownloadContentAsync(cancellationToken)).Value.Content.ToArray();
        var actual = Convert.ToHexStringLower(SHA256.HashData(content));
        if (!string.Equals(actual, job.Artifact.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new BatchScoringException($"the artifact of {job.Model} version {job.Version} hashes to {actual}, not {job.Artifact.Sha256}; refusing to score with it");
        }

        return content;
    }

    private static async Task<(string Sha256, long Bytes)> HashAsync(BlockBlobClient blob, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var download = await blob.DownloadStreamingAsync(cancellationToken: cancellationToken);
        await using var content = download.Value.Content;
        var buffer = new byte[1 << 16];
        long bytes = 0;
        int read;
        while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            bytes += read;
        }

        return (Convert.ToHexStringLower(hash.GetHashAndReset()), bytes);
    }

    private static void AppendRecord(StringBuilder csv, IReadOnlyList<string?> fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                csv.Append(',');
            }

            var field = fields[i] ?? "";
            if (field.AsSpan().IndexOfAny(",\"\r\n") >= 0)
            {
                csv.Append('"').Append(field.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
            }
            else
            {
                csv.Append(field);
            }
        }

        csv.Append('\n');
    }

    private async Task<string?> StateAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT state FROM registry.batch_predictions WHERE job_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = database.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {JobId}: resuming at chunk {Chunk} of {Chunks}")]
    private partial void LogResuming(Guid jobId, int chunk, int chunks);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {JobId}: scored {Rows} rows in {Chunks} chunks")]
    private partial void LogJobSucceeded(Guid jobId, int rows, int chunks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch job {JobId} failed: {Reason}")]
    private partial void LogJobFailed(Guid jobId, string reason);
}
