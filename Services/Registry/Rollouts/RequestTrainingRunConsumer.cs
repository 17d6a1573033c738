using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Contracts.Rollouts;
using Flywheel.Contracts.Training;
using Flywheel.Registry.Security;
using MassTransit;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Rollouts;

/// <summary>
/// Records a training request the orchestrator's retraining decided on, the same way
/// <c>POST /api/models/{model}/training-runs</c> does (request row, <see cref="TrainingRunRequested"/>
/// in the outbox, audit, one transaction), so <c>GET /api/training-runs/{id}</c> shows it with its
/// trigger. A redelivered request finds its row and changes nothing.
/// </summary>
public sealed partial class RequestTrainingRunConsumer(NpgsqlDataSource database, IOptions<JsonOptions> jsonOptions, ILogger<RequestTrainingRunConsumer> logger)
    : IConsumer<RequestTrainingRun>
{
    public async Task Consume(ConsumeContext<RequestTrainingRun> context)
    {
        var message = context.Message;
        var cancellationToken = context.CancellationToken;
        var json = jsonOptions.Value.SerializerOptions;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO registry.training_requests (run_id, model, spec, trigger, requested_by, requested_at)
            VALUES ($1, $2, $3::jsonb, $4, $5, $6) ON CONFLICT (run_id) DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = message.RunId });
            insert.Parameters.Add(new NpgsqlParameter { Value = message.Model });
            insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(message.Spec, json) });
            insert.Parameters.Add(new NpgsqlParameter { Value = message.Trigger });
            insert.Parameters.Add(new NpgsqlParameter { Value = message.RequestedBy });
            insert.Parameters.Add(new NpgsqlParameter { Value = message.RequestedAt });
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return;
            }
        }

        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, new TrainingRunRequested(
            message.RunId, message.Model, message.Spec, message.Trigger, message.RequestedBy, message.ParentVersion, message.RequestedAt), cancellationToken);
        await Audit.WriteAsync(connection, transaction, message.RequestedBy, "training_run.requested", message.Model,
            new { run_id = message.RunId, spec = message.Spec, trigger = message.Trigger, parent_version = message.ParentVersion, reason = message.Reason }, json, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogRequested(message.RunId, message.Model, message.Trigger);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Training run {RunId} of {Model} requested by the {Trigger} trigger")]
    private partial void LogRequested(Guid runId, string model, string trigger);
}
