using Flywheel.Contracts;
using Flywheel.Contracts.Rollouts;
using Flywheel.Registry.Deployments;
using MassTransit;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Rollouts;

/// <summary>
/// Applies a rollout's traffic change the way <c>PUT /api/models/{model}/deployment</c> does (new
/// revision, history with the orchestrator as actor and the rollout's reason, audit,
/// <c>DeploymentChanged</c>), and answers with <see cref="TrafficChanged"/> or
/// <see cref="TrafficChangeRefused"/> in the same transaction. A change whose traffic is already in
/// place (a redelivery) is answered with the current revision and writes nothing.
/// </summary>
public sealed partial class ChangeTrafficConsumer(NpgsqlDataSource database, IOptions<JsonOptions> jsonOptions, ILogger<ChangeTrafficConsumer> logger)
    : IConsumer<ChangeTraffic>
{
    public const string Actor = "orchestrator";

    public async Task Consume(ConsumeContext<ChangeTraffic> context)
    {
        var message = context.Message;
        var cancellationToken = context.CancellationToken;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var refusal = await ApplyAsync(connection, transaction, message, cancellationToken);
        if (refusal is not null)
        {
            LogRefused(message.RolloutId, message.Step, refusal);
            await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry,
                new TrafficChangeRefused(message.RolloutId, message.Step, message.Model, refusal), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<string?> ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ChangeTraffic message, CancellationToken cancellationToken)
    {
        if (!await DeploymentsApi.LockModelAsync(connection, transaction, message.Model, cancellationToken))
        {
            return $"there is no model '{message.Model}'.";
        }

        var current = await DeploymentsApi.ReadCurrentAsync(connection, transaction, message.Model, cancellationToken);
        if (current is null)
        {
            return $"model '{message.Model}' is not deployed.";
        }

        var next = new DeploymentsApi.Traffic(
            message.Production,
            message.CanaryVersion is { } canary ? new CanaryTraffic(canary, message.CanaryPercent!.Value, AutoPromote: false) : null,
            message.ShadowVersion is { } shadow ? new ShadowTraffic(shadow, message.ShadowPercent!.Value) : null,
            current.StickyBy);
        if (DeploymentsApi.Traffic.Of(current) == next)
        {
            await AnswerAsync(connection, transaction, message, current, cancellationToken);
            return null;
        }

        if (current.Production != message.ExpectedProduction)
        {
            return $"production is version {current.Production}, not {message.ExpectedProduction} as when the rollout began: someone else changed the deployment (revision {current.Revision} by {current.UpdatedBy}).";
        }

        var versions = new List<(string Field, int Version)> { ("production", message.Production) };
        versions.AddRange(message.CanaryVersion is { } c ? [("canary.version", c)] : []);
        versions.AddRange(message.ShadowVersion is { } s ? [("shadow.version", s)] : []);
        if (await DeploymentsApi.CheckVersionsAsync(connection, transaction, message.Model, versions, cancellationToken) is { Count: > 0 } unservable)
        {
            return string.Join(" ", unservable.Select(e => $"{e.Field}: {e.Message}"));
        }

        var changed = await DeploymentsApi.ChangeAsync(
            connection, transaction, message.Model, current, next, message.Action, Actor, message.Reason, jsonOptions.Value.SerializerOptions, cancellationToken);
        await AnswerAsync(connection, transaction, message, changed, cancellationToken);
        LogChanged(message.RolloutId, message.Model, message.Step, changed.Revision);
        return null;
    }

    private static Task AnswerAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ChangeTraffic message, DeploymentView deployment, CancellationToken cancellationToken) =>
        Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry,
            new TrafficChanged(message.RolloutId, message.Step, message.Model, deployment.Revision, deployment.UpdatedAt), cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} of {Model}: {Step} in place as revision {Revision}")]
    private partial void LogChanged(Guid rolloutId, string model, string step, long revision);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rollout {RolloutId}: the {Step} traffic change was refused: {Reason}")]
    private partial void LogRefused(Guid rolloutId, string step, string reason);
}
