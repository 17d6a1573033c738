using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Contracts.Rollouts;
using Flywheel.Contracts.Training;
using Flywheel.Core.Retraining;
using Flywheel.Orchestrator.Training;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Orchestrator.Retraining;

/// <summary>
/// Decides what a retraining trigger does and records the decision with its reason in
/// <c>orchestration.retraining_decisions</c>; when it starts a run, the <see cref="RequestTrainingRun"/>
/// goes to the orchestration outbox in the same transaction. Decisions of one model are taken one at
/// a time (an advisory lock), so two triggers at once cannot both pass the cooldown.
/// </summary>
public sealed partial class RetrainingPlanner(
    NpgsqlDataSource database, TimeProvider clock, IOptions<OrchestratorOptions> options, ILogger<RetrainingPlanner> logger)
{
    /// <summary>Training runs that are not finished: requested and not yet taken, or in a step.</summary>
    private static readonly string[] FinishedStates = ["Succeeded", "Failed"];

    /// <param name="triggerId">The trigger's own id (report, request or schedule occurrence): a redelivered trigger is decided once.</param>
    /// <returns>The decision, or null when this trigger was decided before or the model does not exist.</returns>
    public async Task<RetrainingDecision?> DecideAsync(
        Guid triggerId, string model, string trigger, string requestedBy, object detail, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockModel = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('retraining:' || $1))", connection, transaction))
        {
            lockModel.Parameters.Add(new NpgsqlParameter { Value = model });
            await lockModel.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var seen = new NpgsqlCommand("SELECT 1 FROM orchestration.retraining_decisions WHERE id = $1", connection, transaction))
        {
            seen.Parameters.Add(new NpgsqlParameter { Value = triggerId });
            if (await seen.ExecuteScalarAsync(cancellationToken) is not null)
            {
                return null;
            }
        }

        if (await StoredPolicy.ReadAsync(connection, transaction, model, cancellationToken) is not { } stored)
        {
            LogUnknownModel(trigger, model);
            return null;
        }

        var policy = stored.RetrainingOrDefault;
        var now = clock.GetUtcNow();
        var (lastStartedAt, inFlight) = await HistoryAsync(connection, transaction, model, options.Value.RunTimeout, cancellationToken);
        var decision = RetrainingRules.Decide(trigger, policy, now, lastStartedAt, inFlight);
        Guid? runId = null;
        int? parent = null;
        if (decision.Start)
        {
            var recipe = await RecipeAsync(connection, transaction, model, cancellationToken);
            parent = recipe.Parent;
            runId = Guid.CreateVersion7();
            var spec = new TrainingRunSpec(
                recipe.Trainer, recipe.Hyperparameters, 0, policy.WindowDays is { } days ? now.AddDays(-days) : null, null, recipe.Seed);
            await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Orchestration,
                new RequestTrainingRun(runId.Value, model, spec, trigger, requestedBy, parent, decision.Reason, now), cancellationToken);
        }

        await using (var insert = new NpgsqlCommand("""
            INSERT INTO orchestration.retraining_decisions (id, model, trigger, decision, reason, run_id, parent_version, requested_by, detail, at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = triggerId });
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            insert.Parameters.Add(new NpgsqlParameter { Value = trigger });
            insert.Parameters.Add(new NpgsqlParameter { Value = decision.Start ? "started" : "skipped" });
            insert.Parameters.Add(new NpgsqlParameter { Value = decision.Reason });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)runId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)parent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
            insert.Parameters.Add(new NpgsqlParameter { Value = requestedBy });
            insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(detail, StoredPolicy.SerializerOptions) });
            insert.Parameters.Add(new NpgsqlParameter { Value = now });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        if (decision.Start)
        {
            LogStarted(model, trigger, runId!.Value, parent);
        }
        else
        {
            LogSkipped(model, trigger, decision.Reason);
        }

        return decision;
    }

    /// <summary>
    /// When the model's last retraining run started, and how many are unfinished. A run the
    /// orchestrator never saw start counts only within the run timeout, so a request lost on the way
    /// cannot block retraining for ever.
    /// </summary>
    private static async Task<(DateTimeOffset? LastStartedAt, int InFlight)> HistoryAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, TimeSpan runTimeout, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT max(d.at), count(*) FILTER (WHERE (t.current_state IS NULL AND d.at > now() - $3) OR NOT t.current_state = ANY($2))
            FROM orchestration.retraining_decisions d
            LEFT JOIN orchestration.training_runs t ON t.correlation_id = d.run_id
            WHERE d.model = $1 AND d.decision = 'started'
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = FinishedStates });
        command.Parameters.Add(new NpgsqlParameter { Value = runTimeout });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0), (int)reader.GetInt64(1));
    }

    /// <summary>What a retrain repeats: the serving version's trainer, hyperparameters and seed (the latest version when none serves).</summary>
    private static async Task<(int? Parent, string Trainer, IReadOnlyDictionary<string, double>? Hyperparameters, int Seed)> RecipeAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT v.version, v.trainer, v.hyperparameters::text, v.seed
            FROM registry.model_versions v
            LEFT JOIN registry.deployments d ON d.model = v.model
            WHERE v.model = $1
            ORDER BY (v.version = d.production) DESC NULLS LAST, v.version DESC
            LIMIT 1
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return (null, "lightgbm", null, Random.Shared.Next());
        }

        return (reader.GetInt32(0), reader.GetString(1), JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(2)), reader.GetInt32(3));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retraining {Model} ({Trigger}): run {RunId} from version {Parent}")]
    private partial void LogStarted(string model, string trigger, Guid runId, int? parent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retraining {Model} ({Trigger}) skipped: {Reason}")]
    private partial void LogSkipped(string model, string trigger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A {Trigger} trigger names model {Model}, which does not exist; ignored")]
    private partial void LogUnknownModel(string trigger, string model);
}
