using System.Text.Json;
using Flywheel.Core.Snapshots;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Registry.Snapshots;

/// <summary>What a new snapshot holds.</summary>
public sealed record SnapshotSummary(Guid Id, long Rows, string Sha256, long LabelsJoined, long LabelsUnmatched);

/// <summary>
/// Freezes a model's training rows for a window into an immutable snapshot, point in time: a
/// row is either an observation that carried its own target, or a label joined with the
/// entity's latest observation at or before the label's time — never a later one, so a model
/// never trains on features it could not have had when the outcome became known. Labels with no
/// earlier observation of their entity are left out and counted. Rows are numbered in a fixed
/// order and the snapshot records the SHA-256 of their canonical encoding.
/// <para>Served predictions that got feedback (<c>inference.labelled_predictions</c>: non-shadow,
/// one row per prediction, the first label received) are rows too, at the prediction's time and
/// inside the window, with the feature values the model was served (<c>inputs</c>) and the label
/// as target, so the next version trains on what serving saw. PII features are logged hashed;
/// those rows carry null (missing) for them instead: a hash is never a value serving gets, so
/// training on it would teach the model categories (or, for numbers, text) it never sees.
/// A labelled prediction that is also an observation with a target — uploaded with the
/// prediction id as its <c>event_id</c>, or of the same entity at the same time — is left out,
/// so the observation is not counted twice.</para>
/// </summary>
public static class SnapshotWriter
{
    public static async Task<SnapshotSummary> CreateAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, DateTimeOffset? from, DateTimeOffset? to,
        Guid? runId, string actor, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        long joined;
        await using (var copy = new NpgsqlCommand("""
            WITH pii AS (
                SELECT coalesce(jsonb_object_agg(f ->> 'name', 'null'::jsonb), '{}'::jsonb) AS nulls
                FROM registry.models m CROSS JOIN LATERAL jsonb_array_elements(m.features) f
                WHERE m.name = $2 AND (f ->> 'pii')::boolean
            ), labelled AS (
                SELECT o.event_time, o.features, o.target, 0 AS source, o.id AS key
                FROM registry.observations o
                WHERE o.model = $2 AND o.target IS NOT NULL
                  AND ($3::timestamptz IS NULL OR o.event_time >= $3) AND ($4::timestamptz IS NULL OR o.event_time < $4)
                UNION ALL
                SELECT l.event_time, f.features, l.target, 1 AS source, l.id AS key
                FROM registry.labels l
                CROSS JOIN LATERAL (
                    SELECT o.features FROM registry.observations o
                    WHERE o.model = l.model AND o.entity_id = l.entity_id AND o.event_time <= l.event_time
                    ORDER BY o.event_time DESC, o.id DESC
                    LIMIT 1) f
                WHERE l.model = $2
                  AND ($3::timestamptz IS NULL OR l.event_time >= $3) AND ($4::timestamptz IS NULL OR l.event_time < $4)
                UNION ALL
                SELECT lp.at, lp.inputs || pii.nulls, lp.label, 2 AS source, lp.feedback_id AS key
                FROM inference.labelled_predictions lp CROSS JOIN pii
                WHERE lp.model = $2
                  AND ($3::timestamptz IS NULL OR lp.at >= $3) AND ($4::timestamptz IS NULL OR lp.at < $4)
                  AND NOT EXISTS (
                      SELECT 1 FROM registry.observations o
                      WHERE o.model = lp.model AND o.event_id = lp.prediction_id::text AND o.target IS NOT NULL)
                  AND NOT EXISTS (
                      SELECT 1 FROM registry.observations o
                      WHERE o.model = lp.model AND o.entity_id = lp.entity_id AND o.event_time = lp.at AND o.target IS NOT NULL)
            ), copied AS (
                INSERT INTO registry.snapshot_rows (snapshot_id, ordinal, event_time, features, target)
                SELECT $1, row_number() OVER (ORDER BY event_time NULLS FIRST, source, key), event_time, features, target
                FROM labelled
                RETURNING 1
            )
            SELECT count(*) FROM labelled WHERE source = 1
            """, connection, transaction))
        {
            copy.Parameters.Add(new NpgsqlParameter { Value = id });
            copy.Parameters.Add(new NpgsqlParameter { Value = model });
            copy.Parameters.Add(Time(from));
            copy.Parameters.Add(Time(to));
            joined = (long)(await copy.ExecuteScalarAsync(cancellationToken))!;
        }

        long unmatched;
        await using (var count = new NpgsqlCommand("""
            SELECT count(*) FROM registry.labels
            WHERE model = $1 AND ($2::timestamptz IS NULL OR event_time >= $2) AND ($3::timestamptz IS NULL OR event_time < $3)
            """, connection, transaction))
        {
            count.Parameters.Add(new NpgsqlParameter { Value = model });
            count.Parameters.Add(Time(from));
            count.Parameters.Add(Time(to));
            unmatched = (long)(await count.ExecuteScalarAsync(cancellationToken))! - joined;
        }

        var (rows, sha256) = await HashAsync(connection, transaction, id, cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO registry.snapshots (id, model, window_from, window_to, rows, sha256, created_by, run_id, labels_joined, labels_unmatched)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = id });
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            insert.Parameters.Add(Time(from));
            insert.Parameters.Add(Time(to));
            insert.Parameters.Add(new NpgsqlParameter { Value = rows });
            insert.Parameters.Add(new NpgsqlParameter { Value = sha256 });
            insert.Parameters.Add(new NpgsqlParameter { Value = actor });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)runId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
            insert.Parameters.Add(new NpgsqlParameter { Value = joined });
            insert.Parameters.Add(new NpgsqlParameter { Value = unmatched });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        return new SnapshotSummary(id, rows, sha256, joined, unmatched);
    }

    /// <summary>Streams a snapshot's rows in order through the canonical hash.</summary>
    public static async Task<(long Rows, string Sha256)> HashAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid id, CancellationToken cancellationToken)
    {
        using var hash = new SnapshotHash();
        await using var rows = new NpgsqlCommand(
            "SELECT event_time, features::text, target::text FROM registry.snapshot_rows WHERE snapshot_id = $1 ORDER BY ordinal", connection, transaction);
        rows.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            using var features = JsonDocument.Parse(reader.GetString(1));
            using var target = reader.IsDBNull(2) ? null : JsonDocument.Parse(reader.GetString(2));
            hash.Add(
                reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0),
                features.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => Scalar(p.Value), StringComparer.Ordinal),
                target is null ? null : Scalar(target.RootElement));
        }

        return (hash.Rows, hash.Finish());
    }

    public static object? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => value.GetString(),
        _ => null,
    };

    private static NpgsqlParameter Time(DateTimeOffset? value) =>
        new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz };
}
