using System.Security.Claims;
using System.Text.Json;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Snapshots;

/// <summary>
/// Training snapshots: <c>POST /api/models/{model}/snapshots</c> copies the model's labelled rows
/// in a window (on event time, <c>from</c> inclusive, <c>to</c> exclusive) into an immutable
/// snapshot and records the SHA-256 of their canonical encoding; <c>GET .../snapshots/{id}</c>
/// returns it and, with <c>?verify=true</c>, re-hashes the stored rows.
/// </summary>
public static class SnapshotsApi
{
    public static RouteGroupBuilder MapSnapshotsApi(this IEndpointRouteBuilder app)
    {
        var snapshots = app.MapGroup("/api/models/{model}/snapshots").WithTags("Snapshots");
        snapshots.MapPost("/", CreateAsync).RequireAuthorization(Policies.Operate).WithName("CreateSnapshot")
            .WithSummary("Freeze the labelled rows of a window into an immutable, hashed snapshot.");
        snapshots.MapGet("/{id}", GetAsync).WithName("GetSnapshot").WithSummary("A snapshot; verify=true re-hashes its rows.");
        // The rows are business data (PII included): a viewer, operator or admin key, as for the prediction log.
        snapshots.MapGet("/{id}/rows", GetRowsAsync).RequireAuthorization(Policies.Read).WithName("GetSnapshotRows")
            .WithSummary("A page of a snapshot's rows, in order (a viewer, operator or admin key).");
        return snapshots;
    }

    public static async Task<Results<Created<SnapshotResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        string model, SnapshotRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var (from, to) = (request?.From, request?.To);
        if (from is not null && to is not null && from >= to)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["from"] = ["must be before to."] });
        }

        if (await ModelsApi.FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        var actor = user.Identity?.Name ?? "unknown";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var snapshot = await SnapshotWriter.CreateAsync(connection, transaction, model, from, to, runId: null, actor, cancellationToken);
        await Audit.WriteAsync(connection, transaction, actor, "snapshot.created", model,
            new { snapshot_id = snapshot.Id, rows = snapshot.Rows, sha256 = snapshot.Sha256 }, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created($"/api/models/{model}/snapshots/{snapshot.Id}",
            new SnapshotResponse(snapshot.Id, model, from, to, snapshot.Rows, snapshot.Sha256, null, snapshot.LabelsJoined, snapshot.LabelsUnmatched));
    }

    public static async Task<Results<Ok<SnapshotResponse>, ProblemHttpResult>> GetAsync(
        string model, Guid id, NpgsqlDataSource database, CancellationToken cancellationToken, bool verify = false)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT window_from, window_to, rows, sha256, labels_joined, labels_unmatched FROM registry.snapshots WHERE id = $1 AND model = $2", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        SnapshotResponse snapshot;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return TypedResults.Problem(title: "Snapshot not found", detail: $"Model '{model}' has no snapshot {id}.", statusCode: StatusCodes.Status404NotFound);
            }

            snapshot = new SnapshotResponse(
                id, model,
                reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0),
                reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1),
                reader.GetInt64(2), reader.GetString(3), null, reader.GetInt64(4), reader.GetInt64(5));
        }

        if (verify)
        {
            var (rows, sha256) = await SnapshotWriter.HashAsync(connection, null, id, cancellationToken);
            snapshot = snapshot with { Verified = rows == snapshot.Rows && sha256 == snapshot.Sha256 };
        }

        return TypedResults.Ok(snapshot);
    }

    public const int MaxPage = 1_000;

    public static async Task<Results<Ok<SnapshotRows>, ValidationProblem, ProblemHttpResult>> GetRowsAsync(
        string model, Guid id, NpgsqlDataSource database, CancellationToken cancellationToken, long offset = 0, int limit = 100)
    {
        if (offset < 0 || limit is < 1 or > MaxPage)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"offset must be 0 or more and limit 1 to {MaxPage}."] });
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using (var exists = new NpgsqlCommand("SELECT 1 FROM registry.snapshots WHERE id = $1 AND model = $2", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = id });
            exists.Parameters.Add(new NpgsqlParameter { Value = model });
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                return TypedResults.Problem(title: "Snapshot not found", detail: $"Model '{model}' has no snapshot {id}.", statusCode: StatusCodes.Status404NotFound);
            }
        }

        await using var command = new NpgsqlCommand("""
            SELECT ordinal, event_time, features::text, target::text FROM registry.snapshot_rows
            WHERE snapshot_id = $1 AND ordinal > $2 ORDER BY ordinal LIMIT $3
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = offset });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var rows = new List<SnapshotRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new SnapshotRow(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1),
                JsonSerializer.Deserialize<JsonElement>(reader.GetString(2)),
                reader.IsDBNull(3) ? null : JsonSerializer.Deserialize<JsonElement>(reader.GetString(3))));
        }

        return TypedResults.Ok(new SnapshotRows(id, offset, rows));
    }
}

public sealed record SnapshotRequest(DateTimeOffset? From, DateTimeOffset? To);

public sealed record SnapshotResponse(
    Guid SnapshotId, string Model, DateTimeOffset? From, DateTimeOffset? To, long Rows, string Sha256, bool? Verified, long LabelsJoined, long LabelsUnmatched);

public sealed record SnapshotRow(long Ordinal, DateTimeOffset? EventTime, JsonElement Features, JsonElement? Target);

public sealed record SnapshotRows(Guid SnapshotId, long Offset, IReadOnlyList<SnapshotRow> Rows);
