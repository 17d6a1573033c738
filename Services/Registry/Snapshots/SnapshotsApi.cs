using System.Security.Claims;
using System.Text.Json;
using Flywheel.Core.Snapshots;
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
        snapshots.MapGet("/{id:guid}", GetAsync).WithName("GetSnapshot").WithSummary("A snapshot; verify=true re-hashes its rows.");
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

        var id = Guid.CreateVersion7();
        var actor = user.Identity?.Name ?? "unknown";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var copy = new NpgsqlCommand("""
            INSERT INTO registry.snapshot_rows (snapshot_id, ordinal, event_time, features, target)
            SELECT $1, row_number() OVER (ORDER BY event_time NULLS FIRST, event_id NULLS LAST, id), event_time, features, target
            FROM registry.observations
            WHERE model = $2 AND target IS NOT NULL
              AND ($3::timestamptz IS NULL OR event_time >= $3) AND ($4::timestamptz IS NULL OR event_time < $4)
            """, connection, transaction))
        {
            copy.Parameters.Add(new NpgsqlParameter { Value = id });
            copy.Parameters.Add(new NpgsqlParameter { Value = model });
            copy.Parameters.Add(new NpgsqlParameter { Value = (object?)from ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            copy.Parameters.Add(new NpgsqlParameter { Value = (object?)to ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            await copy.ExecuteNonQueryAsync(cancellationToken);
        }

        var (rows, sha256) = await HashAsync(connection, transaction, id, cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO registry.snapshots (id, model, window_from, window_to, rows, sha256, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = id });
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)from ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)to ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            insert.Parameters.Add(new NpgsqlParameter { Value = rows });
            insert.Parameters.Add(new NpgsqlParameter { Value = sha256 });
            insert.Parameters.Add(new NpgsqlParameter { Value = actor });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await Audit.WriteAsync(connection, transaction, actor, "snapshot.created", model, new { snapshot_id = id, rows, sha256 }, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created($"/api/models/{model}/snapshots/{id}", new SnapshotResponse(id, model, from, to, rows, sha256, null));
    }

    public static async Task<Results<Ok<SnapshotResponse>, ProblemHttpResult>> GetAsync(
        string model, Guid id, NpgsqlDataSource database, CancellationToken cancellationToken, bool verify = false)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT window_from, window_to, rows, sha256 FROM registry.snapshots WHERE id = $1 AND model = $2", connection);
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
                reader.GetInt64(2), reader.GetString(3), null);
        }

        if (verify)
        {
            var (rows, sha256) = await HashAsync(connection, null, id, cancellationToken);
            snapshot = snapshot with { Verified = rows == snapshot.Rows && sha256 == snapshot.Sha256 };
        }

        return TypedResults.Ok(snapshot);
    }

    /// <summary>Streams a snapshot's rows in order through the canonical hash.</summary>
    private static async Task<(long Rows, string Sha256)> HashAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid id, CancellationToken cancellationToken)
    {
        using var hash = new SnapshotHash();
        await using var rows = new NpgsqlCommand(
            "SELECT event_time, features::text, target::text FROM registry.snapshot_rows WHERE snapshot_id = $1 ORDER BY ordinal", connection, transaction);
        rows.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            using var features = JsonDocument.Parse(reader.GetString(1));
            hash.Add(
                reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0),
                features.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => Scalar(p.Value), StringComparer.Ordinal),
                reader.IsDBNull(2) ? null : Scalar(JsonDocument.Parse(reader.GetString(2)).RootElement));
        }

        return (hash.Rows, hash.Finish());
    }

    private static object? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => value.GetString(),
        _ => null,
    };
}

public sealed record SnapshotRequest(DateTimeOffset? From, DateTimeOffset? To);

public sealed record SnapshotResponse(Guid SnapshotId, string Model, DateTimeOffset? From, DateTimeOffset? To, long Rows, string Sha256, bool? Verified);
