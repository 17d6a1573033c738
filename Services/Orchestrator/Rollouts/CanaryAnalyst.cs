using System.Text.Json;
using Flywheel.Core.Rollouts;
using Flywheel.Orchestrator.Training;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Orchestrator.Rollouts;

/// <summary>
/// Looks at rollouts every <see cref="OrchestratorOptions.RolloutInterval"/>: ends shadow periods
/// that are over, and for each canary whose next analysis is due reads both arms' evidence since
/// the canary began (<see cref="CanaryEvidence"/>), judges it with <see cref="CanaryAnalysis.Judge"/>
/// and publishes the verdict for the rollout to act on. A verdict lost on the way is simply
/// computed again at the next look, since the rollout's due time only moves when one arrives.
/// </summary>
public sealed partial class CanaryAnalyst(
    NpgsqlDataSource database, CanaryEvidence evidence, IBus bus, TimeProvider clock, IOptions<OrchestratorOptions> options, ILogger<CanaryAnalyst> logger)
    : BackgroundService
{
    /// <summary>How long a published look stands before the same due look is published again (it may have been lost).</summary>
    private static readonly TimeSpan Republish = TimeSpan.FromSeconds(15);

    /// <summary>How the saga repository writes a rollout's data.</summary>
    private static readonly JsonSerializerOptions SagaJson = new(JsonSerializerDefaults.Web);

    private readonly Dictionary<(Guid, DateTimeOffset), DateTimeOffset> _published = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RolloutInterval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await LookAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogAnalystFailed(exception);
            }
        }
    }

    private async Task LookAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        foreach (var rollout in await DueAsync(now, cancellationToken))
        {
            if (rollout.CurrentState == "Shadowing")
            {
                if (ShouldPublish(rollout.CorrelationId, rollout.ShadowEndsAt!.Value, now))
                {
                    await bus.Publish(new ShadowPeriodEnded(rollout.CorrelationId, now), cancellationToken);
                }

                continue;
            }

            if (!ShouldPublish(rollout.CorrelationId, rollout.NextAnalysisAt!.Value, now))
            {
                continue;
            }

            var bakeComplete = now >= rollout.BakeEndsAt;
            var (production, canary) = await evidence.ReadAsync(rollout.Model, rollout.Production, rollout.RolloutVersion, rollout.CanaryStartedAt!.Value, cancellationToken);
            var verdict = CanaryAnalysis.Judge(production, canary, rollout.Policy.Thresholds, bakeComplete);
            LogAnalysed(rollout.CorrelationId, rollout.Model, verdict.Outcome, verdict.Reason);
            await bus.Publish(new CanaryAnalysed(rollout.CorrelationId, now, bakeComplete, verdict, production.Requests, canary.Requests), cancellationToken);
        }

        foreach (var stale in _published.Where(p => now - p.Value > TimeSpan.FromHours(1)).Select(p => p.Key).ToList())
        {
            _published.Remove(stale);
        }
    }

    private bool ShouldPublish(Guid rolloutId, DateTimeOffset due, DateTimeOffset now)
    {
        if (_published.TryGetValue((rolloutId, due), out var at) && now - at < Republish)
        {
            return false;
        }

        _published[(rolloutId, due)] = now;
        return true;
    }

    /// <summary>Saga states in which a rollout holds the model's traffic (the registry's API uses the same names).</summary>
    public static readonly string[] ActiveStates = ["Shadowing", "Canary", "AwaitingApproval", "Promoting", "RollingBack"];

    /// <summary>
    /// Rollouts due as of <paramref name="now"/>, the time their verdicts carry: the rollout takes a
    /// verdict only from its due time on, so "due" must be judged by the same clock.
    /// </summary>
    private async Task<List<Rollout>> DueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            SELECT current_state, data::text FROM orchestration.rollouts
            WHERE (current_state = 'Shadowing' AND (data->>'shadowEndsAt')::timestamptz <= $1)
               OR (current_state = 'Canary' AND (data->>'nextAnalysisAt')::timestamptz <= $1)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        var due = new List<Rollout>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var rollout = JsonSerializer.Deserialize<Rollout>(reader.GetString(1), SagaJson)!;
            rollout.CurrentState = reader.GetString(0);
            due.Add(rollout);
        }

        return due;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} of {Model}: {Outcome}. {Reason}")]
    private partial void LogAnalysed(Guid rolloutId, string model, CanaryOutcome outcome, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The canary analyst failed; it will look again")]
    private partial void LogAnalystFailed(Exception exception);
}
