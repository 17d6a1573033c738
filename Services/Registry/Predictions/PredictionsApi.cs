using System.Text.Json;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Registry.Predictions;

/// <summary>
/// <c>GET /api/predictions/{predictionId}</c>: one logged prediction as it was served, the label
/// that came back for it, and the chain to what trained its model (version, training run,
/// snapshot). Viewers, operators and admins only, unlike the other reads: the log holds business data.
/// </summary>
public static class PredictionsApi
{
    /// <summary>
    /// How far a logged prediction's time may be from the time in its UUIDv7 id. The two are taken
    /// a moment apart in the same process, so a day is generous; it still keeps the scan to the
    /// few daily partitions around the id instead of every one the log has.
    /// </summary>
    public static readonly TimeSpan IdTimeMargin = TimeSpan.FromDays(1);

    public static void MapPredictionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/predictions/{predictionId}", GetAsync).RequireAuthorization(Policies.Read).WithTags("Predictions").WithName("GetPrediction")
            .WithSummary("A logged prediction: inputs as served, outputs, model and version, its label if one came back, and the lineage of its version.");
    }

    public static async Task<Results<Ok<PredictionLookup>, ValidationProblem, ProblemHttpResult>> GetAsync(
        string predictionId, NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        // The route takes any text so a malformed id gets a 400 that names it, not a bare 404.
        if (!Guid.TryParse(predictionId, out var id))
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["predictionId"] = [$"must be a prediction id (a UUID such as 0190a6b2-7c1e-7d3a-9f00-2b4c5d6e7f80); '{Clip(predictionId)}' is not."] },
                title: "The prediction id is not valid.");
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var prediction = await ReadPredictionAsync(connection, id, cancellationToken);
        if (prediction is null)
        {
            return TypedResults.Problem(
                title: "Prediction not found",
                detail: $"There is no prediction {id} in the log. The log is written a moment after the answer, and keeps what the retention allows.",
                statusCode: StatusCodes.Status404NotFound);
        }

        var feedback = await ReadFeedbackAsync(connection, prediction.Model, id, cancellationToken);
        var lineage = await ReadLineageAsync(connection, prediction.Model, prediction.Version, cancellationToken);
        return TypedResults.Ok(prediction with { Feedback = feedback, Lineage = lineage });
    }

    /// <summary>The millisecond timestamp a UUIDv7 carries in its first 48 bits; null for other UUIDs.</summary>
    public static DateTimeOffset? IdTime(Guid id)
    {
        if (id.Version != 7)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        long milliseconds = 0;
        for (var i = 0; i < 6; i++)
        {
            milliseconds = (milliseconds << 8) | bytes[i];
        }

        return DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
    }

    private static async Task<PredictionLookup?> ReadPredictionAsync(NpgsqlConnection connection, Guid id, CancellationToken cancellationToken)
    {
        // A retried COPY may have logged the prediction twice, the same values both times: one is enough.
        await using var command = new NpgsqlCommand("""
            SELECT prediction_id, at, model, version, shadow, entity_id, inputs::text, outputs::text, latency_us, batch_size, caller
            FROM inference.predictions
            WHERE prediction_id = $1 AND ($2::timestamptz IS NULL OR at BETWEEN $2 - $3 AND $2 + $3)
            LIMIT 1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)IdTime(id) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = IdTimeMargin, NpgsqlDbType = NpgsqlDbType.Interval });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new PredictionLookup(
            reader.GetGuid(0),
            reader.GetFieldValue<DateTimeOffset>(1),
            reader.GetString(2),
            reader.GetInt32(3),
            reader.GetBoolean(4),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            reader.IsDBNull(10) ? null : reader.GetString(10),
            reader.GetInt32(8),
            reader.GetInt32(9),
            JsonSerializer.Deserialize<JsonElement>(reader.GetString(6)),
            JsonSerializer.Deserialize<JsonElement>(reader.GetString(7)),
            null,
            null);
    }

    /// <summary>
    /// The label as the rest of the platform sees it (<c>inference.labelled_predictions</c>, which
    /// also finds labels sent by entity and time); failing that, a label stored by this id that the
    /// view leaves out. That is a shadow's: its answer never reached a caller, so it is not joined.
    /// </summary>
    private static async Task<PredictionFeedback?> ReadFeedbackAsync(NpgsqlConnection connection, string model, Guid id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT joined, label, received_at, by_id, caller FROM (
                SELECT true AS joined, f.label::text AS label, f.received_at, f.prediction_id IS NOT NULL AS by_id, f.caller
                FROM inference.labelled_predictions l JOIN inference.feedback f ON f.id = l.feedback_id
                WHERE l.model = $1 AND l.prediction_id = $2
                UNION ALL
                SELECT false, f.label::text, f.received_at, true, f.caller
                FROM inference.feedback f
                WHERE f.model = $1 AND f.prediction_id = $2
            ) labels
            ORDER BY joined DESC
            LIMIT 1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new PredictionFeedback(
            JsonSerializer.Deserialize<JsonElement>(reader.GetString(1)),
            reader.GetFieldValue<DateTimeOffset>(2),
            reader.GetBoolean(3) ? FeedbackMatch.PredictionId : FeedbackMatch.EntityTime,
            reader.GetBoolean(0),
            reader.IsDBNull(4) ? null : reader.GetString(4));
    }

    private static async Task<PredictionLineage?> ReadLineageAsync(NpgsqlConnection connection, string model, int version, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT v.run_id, v.trainer, v.hyperparameters::text, v.seed, v.trigger, v.parent_version, v.code_version, v.created_at,
                   r.requested_by, r.requested_at,
                   v.snapshot_id, v.snapshot_sha256, v.rows, s.window_from, s.window_to, s.created_at
            FROM registry.model_versions v
            LEFT JOIN registry.training_requests r ON r.run_id = v.run_id
            LEFT JOIN registry.snapshots s ON s.id = v.snapshot_id
            WHERE v.model = $1 AND v.version = $2
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var runId = reader.GetGuid(0);
        var snapshotId = reader.GetGuid(10);
        var escaped = Uri.EscapeDataString(model);
        return new PredictionLineage(
            version,
            reader.GetFieldValue<DateTimeOffset>(7),
            reader.IsDBNull(5) ? null : reader.GetInt32(5),
            reader.GetString(6),
            new LineageRun(
                runId,
                reader.GetString(1),
                JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(2))!,
                reader.GetInt32(3),
                reader.GetString(4),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9)),
            new LineageSnapshot(
                snapshotId,
                reader.GetString(11),
                reader.GetInt64(12),
                reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
                reader.IsDBNull(14) ? null : reader.GetFieldValue<DateTimeOffset>(14),
                reader.IsDBNull(15) ? null : reader.GetFieldValue<DateTimeOffset>(15)),
            new LineageLinks(
                $"/api/models/{escaped}/versions/{version}",
                $"/api/training-runs/{runId}",
                $"/api/models/{escaped}/snapshots/{snapshotId}"));
    }

    /// <summary>Echoed ids are cut short: a problem answer should not carry whatever was pasted.</summary>
    private static string Clip(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "…");
}

/// <summary>
/// A logged prediction. <see cref="Inputs"/> are the features as served (PII features hashed or
/// dropped, as logged); <see cref="Outputs"/> what the caller got.
/// </summary>
public sealed record PredictionLookup(
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
    PredictionFeedback? Feedback,
    PredictionLineage? Lineage);

public enum FeedbackMatch
{
    PredictionId,
    EntityTime,
}

/// <summary>
/// The label that came back. <see cref="Joined"/> is false for a label stored by this id that the
/// platform does not count (a shadow prediction's): monitoring and training leave it out.
/// </summary>
public sealed record PredictionFeedback(JsonElement Label, DateTimeOffset ReceivedAt, FeedbackMatch MatchedBy, bool Joined, string? Caller);

public sealed record PredictionLineage(
    int Version,
    DateTimeOffset VersionCreatedAt,
    int? ParentVersion,
    string CodeVersion,
    LineageRun TrainingRun,
    LineageSnapshot Snapshot,
    LineageLinks Links);

public sealed record LineageRun(
    Guid RunId,
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    int Seed,
    string Trigger,
    string? RequestedBy,
    DateTimeOffset? RequestedAt);

/// <summary>The snapshot the version was trained on; <see cref="WindowFrom"/> and <see cref="WindowTo"/> are null when open.</summary>
public sealed record LineageSnapshot(Guid SnapshotId, string Sha256, long Rows, DateTimeOffset? WindowFrom, DateTimeOffset? WindowTo, DateTimeOffset? CreatedAt);

/// <summary>API paths (through the gateway) of the version, the run and the snapshot.</summary>
public sealed record LineageLinks(string Version, string TrainingRun, string Snapshot);
