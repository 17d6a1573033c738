using System.Security.Cryptography;
using System.Text;
using Flywheel.Core.Retraining;
using Flywheel.Orchestrator.Training;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Orchestrator.Retraining;

/// <summary>
/// Fires each model's retraining schedule (<c>policy.retraining.schedule</c>, cron in UTC). An
/// occurrence is due once it is past and later than both the model's last scheduled trigger and
/// the last change of its policy (or its creation), so a schedule set now does not fire for the
/// past, while one missed because the orchestrator was down still fires when it is back. Each
/// occurrence has a fixed id, so two orchestrators firing it decide it once.
/// </summary>
public sealed partial class RetrainingScheduler(
    NpgsqlDataSource database, RetrainingPlanner planner, TimeProvider clock, IOptions<OrchestratorOptions> options, ILogger<RetrainingScheduler> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ScheduleInterval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                foreach (var (model, schedule, since) in await SchedulesAsync(stoppingToken))
                {
                    if (!RetrainingSchedule.TryParse(schedule, out _, out _))
                    {
                        continue;
                    }

                    if (RetrainingSchedule.Due(schedule, since, clock.GetUtcNow()) is { } occurrence)
                    {
                        await planner.DecideAsync(OccurrenceId(model, occurrence), model, RetrainingTriggers.Schedule, "scheduler",
                            new { schedule, occurrence }, stoppingToken);
                    }
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogSchedulerFailed(exception);
            }
        }
    }

    private async Task<List<(string Model, string Schedule, DateTimeOffset Since)>> SchedulesAsync(CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            SELECT m.name, m.policy->'retraining'->>'schedule', greatest(
                   m.created_at,
                   (SELECT max(a.at) FROM registry.audit_log a WHERE a.subject = m.name AND a.action = 'model.policy_changed'),
                   (SELECT max((d.detail->>'occurrence')::timestamptz) FROM orchestration.retraining_decisions d
                    WHERE d.model = m.name AND d.trigger = 'schedule'))
            FROM registry.models m
            WHERE m.policy->'retraining'->>'schedule' IS NOT NULL
            """);
        var schedules = new List<(string, string, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            schedules.Add((reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return schedules;
    }

    /// <summary>A name-based id for one occurrence of one model's schedule.</summary>
    private static Guid OccurrenceId(string model, DateTimeOffset occurrence) =>
        new(SHA256.HashData(Encoding.UTF8.GetBytes($"schedule|{model}|{occurrence.UtcTicks}")).AsSpan(0, 16));

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retraining scheduler failed; it will look again")]
    private partial void LogSchedulerFailed(Exception exception);
}
