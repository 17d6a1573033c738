using System.Text.Json;
using Flywheel.Core.Ingestion;
using Flywheel.Core.Schema;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Registry.Ingestion;

/// <summary>A rejected row as it goes to the quarantine: its line, its values as sent, and why.</summary>
public sealed record QuarantinedRow(long Line, IReadOnlyDictionary<string, string?> Values, IReadOnlyList<FieldError> Errors);

/// <summary>
/// Persists an ingestion batch by batch. Each batch is one transaction: accepted rows are copied
/// (binary COPY) into a staging table and inserted into the offline store, dropping event ids the
/// store already has; rejected rows are copied into the quarantine; the ingestion's counts move
/// with them. Once a batch commits, its rows are acknowledged and survive any later failure.
/// </summary>
public sealed class IngestionWriter(NpgsqlDataSource database, JsonSerializerOptions json)
{
    public async Task<Guid> StartAsync(string model, string format, string actor, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        await using var command = database.CreateCommand(
            "INSERT INTO registry.ingestions (id, model, format, state, created_by) VALUES ($1, $2, $3, 'running', $4)");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = format });
        command.Parameters.Add(new NpgsqlParameter { Value = actor });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return id;
    }

    /// <summary>Writes one batch and returns how many of its accepted rows were duplicates of rows already stored.</summary>
    public async Task<long> CommitBatchAsync(
        Guid ingestion, string model, IReadOnlyList<RowValidation> accepted, IReadOnlyList<QuarantinedRow> rejected, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var duplicates = 0L;
        if (accepted.Count > 0)
        {
            await using (var create = new NpgsqlCommand(
                "CREATE TEMP TABLE staging (event_id text, entity_id text, event_time timestamptz, features jsonb, target jsonb) ON COMMIT DROP",
                connection, transaction))
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var import = await connection.BeginBinaryImportAsync(
                "COPY staging (event_id, entity_id, event_time, features, target) FROM STDIN (FORMAT BINARY)", cancellationToken))
            {
                foreach (var row in accepted)
                {
                    await import.StartRowAsync(cancellationToken);
                    await WriteAsync(import, row.EventId, NpgsqlDbType.Text, cancellationToken);
                    await WriteAsync(import, row.EntityId, NpgsqlDbType.Text, cancellationToken);
                    await WriteAsync(import, row.EventTime, NpgsqlDbType.TimestampTz, cancellationToken);
                    await import.WriteAsync(JsonSerializer.Serialize(row.Features, json), NpgsqlDbType.Jsonb, cancellationToken);
                    await WriteAsync(import, row.Target is null ? null : JsonSerializer.Serialize(row.Target, json), NpgsqlDbType.Jsonb, cancellationToken);
                }

                await import.CompleteAsync(cancellationToken);
            }

            await using var insert = new NpgsqlCommand("""
                INSERT INTO registry.observations (model, event_id, entity_id, event_time, features, target, ingestion_id)
                SELECT $1, event_id, entity_id, event_time, features, target, $2 FROM staging
                ON CONFLICT (model, event_id) WHERE event_id IS NOT NULL DO NOTHING
                """, connection, transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            insert.Parameters.Add(new NpgsqlParameter { Value = ingestion });
            duplicates = accepted.Count - await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        if (rejected.Count > 0)
        {
            await using var import = await connection.BeginBinaryImportAsync(
                "COPY registry.quarantine (ingestion_id, line, row_values, errors) FROM STDIN (FORMAT BINARY)", cancellationToken);
            foreach (var row in rejected)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(ingestion, NpgsqlDbType.Uuid, cancellationToken);
                await import.WriteAsync(row.Line, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(JsonSerializer.Serialize(row.Values, json), NpgsqlDbType.Jsonb, cancellationToken);
                await import.WriteAsync(JsonSerializer.Serialize(row.Errors.Select(e => new { e.Field, e.Message, e.Code }), json), NpgsqlDbType.Jsonb, cancellationToken);
            }

            await import.CompleteAsync(cancellationToken);
        }

        await using (var update = new NpgsqlCommand(
            "UPDATE registry.ingestions SET accepted = accepted + $2, rejected = rejected + $3, duplicates = duplicates + $4 WHERE id = $1",
            connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = ingestion });
            update.Parameters.Add(new NpgsqlParameter { Value = accepted.Count - duplicates });
            update.Parameters.Add(new NpgsqlParameter { Value = (long)rejected.Count });
            update.Parameters.Add(new NpgsqlParameter { Value = duplicates });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return duplicates;
    }

    public async Task FinishAsync(Guid ingestion, IngestionReport report, string? error, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            UPDATE registry.ingestions
            SET state = $2, report = $3::jsonb, error = $4, finished_at = now()
            WHERE id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = ingestion });
        command.Parameters.Add(new NpgsqlParameter { Value = error is null ? "succeeded" : "failed" });
        command.Parameters.Add(new NpgsqlParameter
        {
            Value = JsonSerializer.Serialize(new { missing_rates = report.MissingRates, problems = report.Problems }, json),
        });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)error ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task WriteAsync<T>(NpgsqlBinaryImporter import, T? value, NpgsqlDbType type, CancellationToken cancellationToken)
    {
        if (value is null)
        {
            await import.WriteNullAsync(cancellationToken);
        }
        else
        {
            await import.WriteAsync(value, type, cancellationToken);
        }
    }
}
