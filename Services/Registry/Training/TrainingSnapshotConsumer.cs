using Flywheel.Contracts;
using Flywheel.Contracts.Training;
using Flywheel.Registry.Snapshots;
using MassTransit;
using Npgsql;

namespace Flywheel.Registry.Training;

/// <summary>
/// Freezes a run's training rows. Idempotent: a redelivered request finds the snapshot already
/// made for its run and announces that one again, so a run never gets two snapshots.
/// </summary>
public sealed partial class TrainingSnapshotConsumer(NpgsqlDataSource database, ILogger<TrainingSnapshotConsumer> logger) : IConsumer<CreateTrainingSnapshot>
{
    /// <summary>Fewer rows than this cannot be split into training and held-out sets worth the name.</summary>
    public const long MinimumRows = 10;

    public async Task Consume(ConsumeContext<CreateTrainingSnapshot> context)
    {
        var message = context.Message;
        await using var connection = await database.OpenConnectionAsync(context.CancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(context.CancellationToken);
        await using (var lockRun = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", connection, transaction))
        {
            lockRun.Parameters.Add(new NpgsqlParameter { Value = message.RunId });
            await lockRun.ExecuteNonQueryAsync(context.CancellationToken);
        }

        SnapshotSummary? snapshot = null;
        await using (var existing = new NpgsqlCommand(
            "SELECT id, rows, sha256, labels_joined, labels_unmatched FROM registry.snapshots WHERE run_id = $1", connection, transaction))
        {
            existing.Parameters.Add(new NpgsqlParameter { Value = message.RunId });
            await using var reader = await existing.ExecuteReaderAsync(context.CancellationToken);
            if (await reader.ReadAsync(context.CancellationToken))
            {
                snapshot = new SnapshotSummary(reader.GetGuid(0), reader.GetInt64(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt64(4));
            }
        }

        if (snapshot is null)
        {
            snapshot = await SnapshotWriter.CreateAsync(
                connection, transaction, message.Model, message.From, message.To, message.RunId, "training-run", context.CancellationToken);
            LogCreated(message.RunId, snapshot.Id, snapshot.Rows);
        }

        object reply = snapshot.Rows < MinimumRows
            ? new TrainingSnapshotFailed(message.RunId,
                $"the window holds {snapshot.Rows} labelled rows ({snapshot.LabelsUnmatched} labels had no earlier features); at least {MinimumRows} are needed")
            : new TrainingSnapshotCreated(message.RunId, snapshot.Id, snapshot.Sha256, snapshot.Rows, snapshot.LabelsJoined, snapshot.LabelsUnmatched);
        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, reply, context.CancellationToken);
        await transaction.CommitAsync(context.CancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Training run {RunId}: snapshot {SnapshotId} with {Rows} rows")]
    private partial void LogCreated(Guid runId, Guid snapshotId, long rows);
}
