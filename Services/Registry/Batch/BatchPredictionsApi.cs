using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Flywheel.Contracts;
using Flywheel.Contracts.Serving;
using Flywheel.Contracts.Training;
using Flywheel.Core.Ingestion;
using Flywheel.Core.Schema;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Batch;

/// <summary>
/// Batch predictions: score a snapshot's rows, or an uploaded CSV, with one model version. The
/// request is validated in full here (an upload row by row, so a bad row is a 400 with its line
/// and field and nothing is queued); an upload is stored in Blob first; then the job row and its
/// <see cref="ScoreBatch"/> command commit together (outbox) and a trainer scores it.
/// </summary>
public static class BatchPredictionsApi
{
    public const long MaxUploadBytes = 1L << 30;
    public const int MaxReportedErrors = 100;

    public static void MapBatchPredictionsApi(this IEndpointRouteBuilder app)
    {
        var batch = app.MapGroup("/api").WithTags("Batch predictions");
        batch.MapPost("/models/{model}/batch-predictions", StartAsync)
            .RequireAuthorization(Policies.Operate)
            // One Accepts: endpoint selection matches the request's content type against the last one given.
            .Accepts<BatchPredictionRequest>("application/json", "text/csv")
            .WithName("StartBatchPrediction")
            .WithSummary("Score a snapshot ({ version, snapshot_id }) or an uploaded CSV (?version=) with one model version.");
        batch.MapGet("/batch-predictions/{jobId}", GetAsync).WithName("GetBatchPrediction")
            .WithSummary("A batch job's state, progress and result.");
        batch.MapGet("/batch-predictions/{jobId}/result", DownloadAsync)
            .RequireAuthorization(Policies.Read)
            .WithName("DownloadBatchPrediction")
            .WithSummary("The result CSV: the input columns and the prediction columns, one record per input row.");
    }

    public static async Task<IResult> StartAsync(
        string model, int? version, HttpContext http, ClaimsPrincipal user, NpgsqlDataSource database, BlobServiceClient blobs,
        IOptions<JsonOptions> jsonOptions, CancellationToken cancellationToken)
    {
        var json = jsonOptions.Value.SerializerOptions;
        var mediaType = http.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is not ("application/json" or "text/csv"))
        {
            return TypedResults.Problem(
                title: "Unsupported content type",
                detail: "Send application/json ({ \"version\", \"snapshot_id\" }) or text/csv (a header row and the rows to score, with ?version=).",
                statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        if (await ModelsApi.FindAsync(model, database, json, cancellationToken) is not { } found)
        {
            return ModelsApi.ModelNotFound(model);
        }

        Guid? snapshotId = null;
        if (mediaType == "application/json")
        {
            BatchPredictionRequest? request;
            try
            {
                request = await http.Request.ReadFromJsonAsync<BatchPredictionRequest>(json, cancellationToken);
            }
            catch (JsonException exception)
            {
                return TypedResults.ValidationProblem(
                    new Dictionary<string, string[]> { ["body"] = [exception.Message] }, title: "The batch prediction request is not valid JSON.");
            }

            var errors = new Dictionary<string, string[]>();
            if (request?.Version is null)
            {
                errors["version"] = ["is required."];
            }

            if (request?.SnapshotId is null)
            {
                errors["snapshot_id"] = ["is required (or send the rows as text/csv)."];
            }

            if (errors.Count > 0)
            {
                return TypedResults.ValidationProblem(errors, title: "The batch prediction request is not valid.");
            }

            version = request!.Version;
            snapshotId = request.SnapshotId;
            if (!await SnapshotOfModelAsync(database, snapshotId!.Value, model, cancellationToken))
            {
                return TypedResults.ValidationProblem(
                    new Dictionary<string, string[]> { ["snapshot_id"] = [$"'{model}' has no snapshot {snapshotId}."] }, title: "The batch prediction request is not valid.");
            }
        }
        else if (version is null)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["version"] = ["is required: add ?version= to the URL."] }, title: "The batch prediction request is not valid.");
        }

        if (await ArtifactAsync(database, model, version!.Value, cancellationToken) is not { } artifact)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["version"] = [$"'{model}' has no version {version}."] }, title: "The batch prediction request is not valid.");
        }

        var jobId = Guid.CreateVersion7();
        string? inputBlob = null;
        if (snapshotId is null)
        {
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxUploadBytes;
            }

            var upload = await StoreUploadAsync(http.Request.Body, found.ToSchema(), blobs, BatchPredictions.InputBlob(jobId), cancellationToken);
            if (upload is not null)
            {
                return upload;
            }

            inputBlob = BatchPredictions.InputBlob(jobId);
        }

        var actor = user.Identity?.Name ?? "unknown";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO registry.batch_predictions (job_id, model, version, snapshot_id, input_blob, requested_by) VALUES ($1, $2, $3, $4, $5, $6)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = jobId });
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            insert.Parameters.Add(new NpgsqlParameter { Value = version.Value });
            insert.Parameters.Add(new NpgsqlParameter<Guid?> { TypedValue = snapshotId });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)inputBlob ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = actor });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry,
            new ScoreBatch(jobId, model, version.Value, artifact, snapshotId, inputBlob), cancellationToken);
        await Audit.WriteAsync(connection, transaction, actor, "batch_prediction.requested", model,
            new { job_id = jobId, version, snapshot_id = snapshotId, input_blob = inputBlob }, json, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted($"/api/batch-predictions/{jobId}", new BatchPredictionAccepted(jobId));
    }

    public static async Task<Results<Ok<BatchPredictionView>, ProblemHttpResult>> GetAsync(
        Guid jobId, NpgsqlDataSource database, CancellationToken cancellationToken) =>
        await FindAsync(database, jobId, cancellationToken) is { } job ? TypedResults.Ok(job) : JobNotFound(jobId);

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> DownloadAsync(
        Guid jobId, NpgsqlDataSource database, BlobServiceClient blobs, CancellationToken cancellationToken)
    {
        if (await FindAsync(database, jobId, cancellationToken) is not { } job)
        {
            return JobNotFound(jobId);
        }

        if (job.State != BatchPredictions.Succeeded)
        {
            return TypedResults.Problem(title: "The result is not ready",
                detail: $"Batch job {jobId} is {job.State}; its result can be downloaded once it has succeeded.", statusCode: StatusCodes.Status409Conflict);
        }

        var download = await blobs.GetBlobContainerClient(BlobContainers.Data).GetBlobClient(BatchPredictions.ResultBlob(jobId))
            .DownloadStreamingAsync(cancellationToken: cancellationToken);
        return TypedResults.Stream(download.Value.Content, "text/csv; charset=utf-8", $"{job.Model}-v{job.Version}-{jobId}.csv");
    }

    /// <summary>
    /// Buffers the body to a temporary file while checking every row (a 400 with each bad row's
    /// line and field, nothing stored, when any is bad), then stores the file as the job's input.
    /// </summary>
    private static async Task<IResult?> StoreUploadAsync(Stream body, ModelSchema schema, BlobServiceClient blobs, string blobName, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"flywheel-batch-{Guid.NewGuid():N}.csv");
        try
        {
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await body.CopyToAsync(file, cancellationToken);
            }

            // Only the first errors are reported; the rest are counted, so a file of bad rows costs no memory per row.
            var problems = new List<FieldError>(MaxReportedErrors);
            long rows = 0, bad = 0, errorCount = 0;
            void Report(FieldError problem)
            {
                errorCount++;
                if (problems.Count < MaxReportedErrors)
                {
                    problems.Add(problem);
                }
            }

            using (var reader = new StreamReader(path, Encoding.UTF8))
            {
                var csv = new CsvRecordReader(reader);
                string[]? header;
                try
                {
                    header = csv.Read();
                    if (header is null)
                    {
                        return Invalid([new FieldError("body", "is empty: send a header row and the rows to score.", 1)], 0, 1);
                    }

                    while (csv.Read() is { } record)
                    {
                        rows++;
                        if (record.Length != header.Length)
                        {
                            bad++;
                            Report(new FieldError("record", $"has {record.Length} fields where the header has {header.Length}.", csv.Line));
                            continue;
                        }

                        var fields = new Dictionary<string, string?>(header.Length, StringComparer.Ordinal);
                        for (var i = 0; i < header.Length; i++)
                        {
                            fields[header[i]] = record[i];
                        }

                        var validation = RowValidator.Validate(schema, fields, csv.Line);
                        // Scoring needs the features only: no entity id, no target.
                        var rowBad = false;
                        foreach (var error in validation.Errors)
                        {
                            if (!(error.Field == "entity_id" && error.Code == "required"))
                            {
                                rowBad = true;
                                Report(error);
                            }
                        }

                        if (rowBad)
                        {
                            bad++;
                        }
                    }
                }
                catch (MalformedDataException exception)
                {
                    return Invalid([new FieldError("body", exception.Reason, exception.Line)], bad + 1, 1);
                }
            }

            if (bad > 0)
            {
                return Invalid(problems, bad, errorCount);
            }

            if (rows == 0)
            {
                return Invalid([new FieldError("body", "holds no rows to score.", 2)], 0, 1);
            }

            await blobs.GetBlobContainerClient(BlobContainers.Data).GetBlobClient(blobName).UploadAsync(path, new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv; charset=utf-8" },
            }, cancellationToken);
            return null;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static ValidationProblem Invalid(IReadOnlyList<FieldError> problems, long badRows, long errorCount)
    {
        var shown = problems.Take(MaxReportedErrors).ToList();
        var errors = shown.GroupBy(p => p.Field, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(p => p.Line is { } line ? $"line {line}: {p.Message}" : p.Message).ToArray(), StringComparer.Ordinal);
        return TypedResults.ValidationProblem(errors,
            title: "The uploaded rows are not valid; nothing was queued.",
            detail: $"{badRows} row(s) are not valid; fix them and send the file again.",
            extensions: new Dictionary<string, object?>
            {
                ["rows"] = shown.Select(p => new { line = p.Line, field = p.Field, message = p.Message }).ToList(),
                ["more_errors"] = Math.Max(0, errorCount - shown.Count),
            });
    }

    private static async Task<bool> SnapshotOfModelAsync(NpgsqlDataSource database, Guid snapshotId, string model, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT EXISTS (SELECT 1 FROM registry.snapshots WHERE id = $1 AND model = $2)");
        command.Parameters.Add(new NpgsqlParameter { Value = snapshotId });
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<ArtifactReference?> ArtifactAsync(NpgsqlDataSource database, string model, int version, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT artifact_uri, artifact_sha256, artifact_bytes FROM registry.model_versions WHERE model = $1 AND version = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new ArtifactReference(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)) : null;
    }

    private static async Task<BatchPredictionView?> FindAsync(NpgsqlDataSource database, Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            SELECT job_id, model, version, snapshot_id, state, rows_total, rows_done, result_uri, result_sha256, result_bytes, error,
                   requested_by, requested_at, started_at, finished_at
            FROM registry.batch_predictions WHERE job_id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new BatchPredictionView(
            reader.GetGuid(0),
            reader.GetString(1),
            reader.GetInt32(2),
            reader.IsDBNull(3) ? null : reader.GetGuid(3),
            reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetInt64(5),
            reader.GetInt64(6),
            reader.IsDBNull(7) ? null : new BatchPredictionResult(reader.GetString(7), reader.GetString(8), reader.GetInt64(9)),
            reader.IsDBNull(10) ? null : reader.GetString(10),
            reader.GetString(11),
            reader.GetFieldValue<DateTimeOffset>(12),
            reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
            reader.IsDBNull(14) ? null : reader.GetFieldValue<DateTimeOffset>(14));
    }

    private static ProblemHttpResult JobNotFound(Guid jobId) =>
        TypedResults.Problem(title: "Batch job not found", detail: $"There is no batch prediction job {jobId}.", statusCode: StatusCodes.Status404NotFound);
}

public sealed record BatchPredictionRequest(int? Version, Guid? SnapshotId);

public sealed record BatchPredictionAccepted(Guid JobId);

public sealed record BatchPredictionResult(string Uri, string Sha256, long Bytes);

public sealed record BatchPredictionView(
    Guid JobId,
    string Model,
    int Version,
    Guid? SnapshotId,
    string State,
    long? RowsTotal,
    long RowsDone,
    BatchPredictionResult? Result,
    string? Error,
    string RequestedBy,
    DateTimeOffset RequestedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt);
