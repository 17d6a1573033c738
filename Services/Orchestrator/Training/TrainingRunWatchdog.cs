using Flywheel.Contracts.Training;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Orchestrator.Training;

public sealed class OrchestratorOptions
{
    public const string Section = "Flywheel:Orchestrator";

    /// <summary>A run that reports nothing for this long is failed, so a lost or poisoned step never holds a run forever.</summary>
    public TimeSpan RunTimeout { get; set; } = TimeSpan.FromMinutes(30);

    public TimeSpan WatchdogInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often retraining schedules are checked; a cron occurrence fires at most this late.</summary>
    public TimeSpan ScheduleInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often rollouts are looked at for a due canary analysis or the end of a shadow period.</summary>
    public TimeSpan RolloutInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Fails runs that have made no progress within <see cref="OrchestratorOptions.RunTimeout"/>.</summary>
public sealed partial class TrainingRunWatchdog(
    NpgsqlDataSource database, IBus bus, IOptions<OrchestratorOptions> options, ILogger<TrainingRunWatchdog> logger) : BackgroundService
{
    private static readonly string[] ActiveStates = ["Snapshotting", "Searching", "Training", "Registering"];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.WatchdogInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await using var command = database.CreateCommand(
                    "SELECT correlation_id FROM orchestration.training_runs WHERE current_state = ANY($1) AND updated_at < now() - $2");
                command.Parameters.Add(new NpgsqlParameter { Value = ActiveStates });
                command.Parameters.Add(new NpgsqlParameter { Value = options.Value.RunTimeout });
                var stale = new List<Guid>();
                await using (var reader = await command.ExecuteReaderAsync(stoppingToken))
                {
                    while (await reader.ReadAsync(stoppingToken))
                    {
                        stale.Add(reader.GetGuid(0));
                    }
                }

                foreach (var run in stale)
                {
                    LogTimedOut(run, options.Value.RunTimeout);
                    await bus.Publish(new TrainingRunTimedOut(run, $"no progress for {options.Value.RunTimeout}"), stoppingToken);
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogWatchdogFailed(exception);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Training run {RunId} made no progress for {Timeout}; failing it")]
    private partial void LogTimedOut(Guid runId, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The training run watchdog failed; it will look again")]
    private partial void LogWatchdogFailed(Exception exception);
}
