using Flywheel.Contracts.Rollouts;
using Flywheel.Contracts.Training;
using Flywheel.Orchestrator.Retraining;
using MassTransit;
using Npgsql;

namespace Flywheel.Orchestrator.Rollouts;

/// <summary>
/// Turns a rollout request, or a version registered by a retraining run when the model's policy
/// says <c>rollout.auto</c>, into a <see cref="BeginRollout"/> carrying the production version and the
/// policy as they are now. A retraining run's rollout has the run's id, so a redelivered
/// registration starts it once.
/// </summary>
public sealed partial class RolloutStarter(NpgsqlDataSource database, TimeProvider clock, ILogger<RolloutStarter> logger)
    : IConsumer<RolloutRequested>, IConsumer<ModelVersionRegistered>
{
    public async Task Consume(ConsumeContext<RolloutRequested> context)
    {
        var m = context.Message;
        await using var connection = await database.OpenConnectionAsync(context.CancellationToken);
        var policy = await StoredPolicy.ReadAsync(connection, null, m.Model, context.CancellationToken) ?? new StoredPolicy();
        await context.Publish(await PlanAsync(connection, m.RolloutId, m.Model, m.Version, policy, m.Trigger, m.RequestedBy, m.RequestedAt, context.CancellationToken));
    }

    public async Task Consume(ConsumeContext<ModelVersionRegistered> context)
    {
        var m = context.Message;
        var cancellationToken = context.CancellationToken;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        string? trigger;
        await using (var decision = new NpgsqlCommand("SELECT trigger FROM orchestration.retraining_decisions WHERE run_id = $1", connection))
        {
            decision.Parameters.Add(new NpgsqlParameter { Value = m.RunId });
            trigger = await decision.ExecuteScalarAsync(cancellationToken) as string;
        }

        // Only versions from retraining roll out by themselves; a hand-started run's version is deployed by hand.
        if (trigger is null || await StoredPolicy.ReadAsync(connection, null, m.Model, cancellationToken) is not { } policy)
        {
            return;
        }

        if (!policy.RolloutOrDefault.Auto)
        {
            LogNotAutomatic(m.Model, m.Version);
            return;
        }

        var begin = await PlanAsync(connection, m.RunId, m.Model, m.Version, policy, trigger, "orchestrator", clock.GetUtcNow(), cancellationToken);
        if (begin.Refusal is not null)
        {
            // Nothing to roll out against (a model not deployed yet) is normal for a first version: logged, not recorded as a failed rollout.
            LogNotStarted(m.Model, m.Version, begin.Refusal);
            return;
        }

        await context.Publish(begin, cancellationToken);
    }

    private static async Task<BeginRollout> PlanAsync(
        NpgsqlConnection connection, Guid rolloutId, string model, int version, StoredPolicy policy, string trigger, string requestedBy, DateTimeOffset at,
        CancellationToken cancellationToken)
    {
        int? production;
        await using (var deployment = new NpgsqlCommand("SELECT production FROM registry.deployments WHERE model = $1", connection))
        {
            deployment.Parameters.Add(new NpgsqlParameter { Value = model });
            production = await deployment.ExecuteScalarAsync(cancellationToken) as int?;
        }

        Guid? active;
        await using (var rollouts = new NpgsqlCommand(
            "SELECT correlation_id FROM orchestration.rollouts WHERE model = $1 AND correlation_id <> $2 AND current_state = ANY($3) LIMIT 1", connection))
        {
            rollouts.Parameters.Add(new NpgsqlParameter { Value = model });
            rollouts.Parameters.Add(new NpgsqlParameter { Value = rolloutId });
            rollouts.Parameters.Add(new NpgsqlParameter { Value = CanaryAnalyst.ActiveStates });
            active = await rollouts.ExecuteScalarAsync(cancellationToken) as Guid?;
        }

        var refusal = production switch
        {
            null => $"model '{model}' is not deployed: there is no production version to compare version {version} with.",
            _ when production == version => $"version {version} already serves production.",
            _ when active is not null => $"rollout {active} of the model is still in progress.",
            _ => null,
        };
        return new BeginRollout(
            rolloutId, model, version, production ?? 0, policy.RolloutOrDefault, policy.RequireApproval,
            trigger, requestedBy, at, refusal);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Version {Version} of {Model} came from retraining; the policy does not roll out by itself (rollout.auto is off)")]
    private partial void LogNotAutomatic(string model, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Version {Version} of {Model} is not rolled out: {Reason}")]
    private partial void LogNotStarted(string model, int version, string reason);
}
