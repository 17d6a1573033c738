using Flywheel.DriftMonitor.Reports;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.DriftMonitor.Monitoring;

/// <summary>
/// The schedule: every second, each deployed model whose policy interval has passed since its
/// last evaluation (or since the monitor first saw it deployed) gets its production version's
/// current window evaluated. One instance is meant
/// to run; a second would only evaluate twice as often, because the episode row lock keeps the
/// events to one per episode either way.
/// </summary>
public sealed partial class MonitorLoop(
    DeploymentCatalog deployments, NpgsqlDataSource database, WindowEvaluator evaluator, IOptions<JsonOptions> json, IOptions<MonitoringOptions> options,
    TimeProvider clock, ILogger<MonitorLoop> logger)
    : BackgroundService
{
    /// <summary>How often the schedule looks for due models; policies may not ask for less than <see cref="MonitoringPolicy.MinEvaluationIntervalSeconds"/>.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, DateTimeOffset> _lastEvaluated = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await deployments.Loaded.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(Tick, clock);
        do
        {
            try
            {
                await EvaluateDueAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogRoundFailed(exception);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task EvaluateDueAsync(CancellationToken cancellationToken)
    {
        var current = deployments.Current;
        if (current.Count == 0)
        {
            return;
        }

        // Read every round, so a PUT interval applies from the next tick, counted from the last evaluation.
        var policies = await MonitoredModels.PoliciesAsync(database, json.Value.SerializerOptions, cancellationToken);
        foreach (var (model, deployment) in current)
        {
            var policy = policies.GetValueOrDefault(model) ?? options.Value.DefaultPolicy;
            var now = clock.GetUtcNow();
            if (!_lastEvaluated.TryGetValue(model, out var last))
            {
                // A model just deployed (or first seen since the monitor started) is first evaluated
                // one interval later: its window needs time to fill, and its first seconds of
                // traffic (warm-up checks, a few repeated requests) are not what it will serve.
                _lastEvaluated[model] = now;
                continue;
            }

            if (now - last < TimeSpan.FromSeconds(policy.EvaluationIntervalSeconds))
            {
                continue;
            }

            _lastEvaluated[model] = now;
            try
            {
                var schema = await MonitoredModels.FindSchemaAsync(database, model, cancellationToken);
                if (schema is not null)
                {
                    await evaluator.EvaluateAsync(schema, deployment.Production, policy, null, null, ReportTriggers.Scheduled, cancellationToken);
                }
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                // One model's failure (a profile that no longer matches its schema, say) must not stop the others.
                LogEvaluationFailed(exception, model, deployment.Production);
            }
        }

        foreach (var gone in _lastEvaluated.Keys.Where(model => !current.ContainsKey(model)).ToList())
        {
            _lastEvaluated.Remove(gone);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A monitoring round failed")]
    private partial void LogRoundFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Evaluating {Model} v{Version} failed")]
    private partial void LogEvaluationFailed(Exception exception, string model, int version);
}
