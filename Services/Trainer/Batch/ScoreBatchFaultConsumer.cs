using Flywheel.Contracts.Serving;
using Flywheel.Core.Telemetry;
using MassTransit;
using Npgsql;

namespace Flywheel.Trainer.Batch;

/// <summary>
/// A batch job whose scoring kept failing for a reason retries did not cure (Blob or the database
/// away for longer than the retries, an input that vanished) has its command moved to the error
/// queue; this marks the job failed with the first reason, so it never shows as running forever.
/// </summary>
public sealed class ScoreBatchFaultConsumer(NpgsqlDataSource database) : IConsumer<Fault<ScoreBatch>>
{
    public async Task Consume(ConsumeContext<Fault<ScoreBatch>> context)
    {
        var reason = context.Message.Exceptions.FirstOrDefault() is { } exception
            ? $"scoring failed after retries: {FailureReasons.Describe(exception.ExceptionType, exception.Message)}"
            : "scoring failed after retries";
        await using var command = database.CreateCommand("""
            UPDATE registry.batch_predictions SET state = 'failed', error = $2, finished_at = now()
            WHERE job_id = $1 AND state IN ('queued', 'running')
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = context.Message.Message.JobId });
        command.Parameters.Add(new NpgsqlParameter { Value = reason });
        await command.ExecuteNonQueryAsync(context.CancellationToken);
    }
}
