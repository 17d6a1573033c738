using System.Text.Json;
using Flywheel.Core.Feedback;
using Flywheel.Core.Schema;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Inference.Feedback;

/// <summary>What one feedback batch did: labels newly stored, repeats of stored ones, and stored ones whose prediction is not in the log (yet).</summary>
public sealed record FeedbackAccepted(long Accepted, long Duplicates, long Unmatched);

/// <summary>
/// Reads a model's target for validation and writes feedback to <c>inference.feedback</c>. A
/// batch is one INSERT, so it is stored whole or not at all; it is acknowledged only after the
/// commit, so an acknowledged label is never lost. Labels are not checked against the prediction
/// log before they are stored: the log is written asynchronously, so a label can legitimately
/// arrive before its prediction, and <c>inference.labelled_predictions</c> joins them when read.
/// </summary>
public sealed partial class FeedbackStore(NpgsqlDataSource database, ILogger<FeedbackStore> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    // The first label for a prediction (or entity and time) wins: ON CONFLICT DO NOTHING keeps it,
    // also against a repeat later in the same batch, and the repeat is counted as a duplicate.
    private const string Insert = """
        WITH stored AS (
            INSERT INTO inference.feedback (model, prediction_id, entity_id, event_time, label, caller)
            SELECT $1, u.prediction_id, u.entity_id, u.event_time, u.label::jsonb, $6
            FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[]) WITH ORDINALITY AS u(prediction_id, entity_id, event_time, label, line)
            ORDER BY u.line
            ON CONFLICT DO NOTHING
            RETURNING prediction_id, entity_id, event_time
        )
        SELECT count(*),
               count(*) FILTER (WHERE NOT CASE
                   WHEN s.prediction_id IS NOT NULL THEN EXISTS (
                       SELECT 1 FROM inference.predictions p
                       WHERE p.prediction_id = s.prediction_id AND p.model = $1 AND NOT p.shadow)
                   ELSE EXISTS (
                       SELECT 1 FROM inference.predictions p
                       WHERE p.model = $1 AND p.entity_id = s.entity_id AND p.at <= s.event_time AND NOT p.shadow)
                   END)
        FROM stored s
        """;

    /// <summary>The model's schema, or null when there is no such model.</summary>
    public async Task<ModelSchema?> FindModelAsync(string model, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT task, entity_key, features::text, target::text FROM registry.models WHERE name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new ModelSchema(
            model,
            JsonSerializer.Deserialize<ModelTask>($"\"{reader.GetString(0)}\"", Json),
            JsonSerializer.Deserialize<List<FeatureDefinition>>(reader.GetString(2), Json)!,
            JsonSerializer.Deserialize<TargetDefinition>(reader.GetString(3), Json)!,
            reader.IsDBNull(1) ? null : reader.GetString(1));
    }

    public async Task<FeedbackAccepted> StoreAsync(string model, IReadOnlyList<FeedbackItem> items, string? caller, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(Insert);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = items.Select(i => i.PredictionId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = items.Select(i => i.EntityId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter
        {
            Value = items.Select(i => i.EventTime?.ToUniversalTime()).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
        });
        command.Parameters.Add(new NpgsqlParameter
        {
            Value = items.Select(i => JsonSerializer.Serialize(i.Label, Json)).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text,
        });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)caller ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var accepted = reader.GetInt64(0);
        var result = new FeedbackAccepted(accepted, items.Count - accepted, reader.GetInt64(1));
        LogStored(model, result.Accepted, result.Duplicates, result.Unmatched, caller);
        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored {Accepted} feedback labels for {Model} ({Duplicates} duplicates, {Unmatched} not yet matched to a prediction) from {Caller}")]
    private partial void LogStored(string model, long accepted, long duplicates, long unmatched, string? caller);
}
