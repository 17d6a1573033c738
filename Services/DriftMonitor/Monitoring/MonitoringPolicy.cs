using System.Globalization;
using Flywheel.Core.Drift;
using Flywheel.Core.Schema;

namespace Flywheel.DriftMonitor.Monitoring;

public enum WindowKind
{
    /// <summary>The predictions of the last <see cref="MonitoringWindow.Minutes"/> minutes.</summary>
    Time,

    /// <summary>The last <see cref="MonitoringWindow.Rows"/> predictions, however old.</summary>
    Count,
}

/// <summary>Which of a version's predictions one evaluation looks at.</summary>
public sealed record MonitoringWindow(WindowKind Kind = WindowKind.Time, int Minutes = 60, int Rows = 10_000);

/// <summary>
/// How one model is monitored: its window, how often the schedule evaluates it, the drift
/// thresholds (<see cref="DriftPolicy"/>), how much worse than at training the live metric may be,
/// and how long a flagged episode stays quiet after its event. A model without a stored policy
/// gets <see cref="Default"/>.
/// </summary>
/// <param name="EvaluationIntervalSeconds">Seconds between scheduled evaluations of the model.</param>
/// <param name="MinimumRows">Scheduled windows with fewer predictions are skipped: they would mostly report noise.</param>
/// <param name="PerformanceTolerance">In the metric's units (AUC, accuracy, RMSE...): degraded only when the live interval is beyond the training value by more than this.</param>
/// <param name="CooldownMinutes">Within an open episode, another event only after this long since the last one.</param>
public sealed record MonitoringPolicy(
    MonitoringWindow? Window = null,
    int EvaluationIntervalSeconds = MonitoringPolicy.DefaultEvaluationIntervalSeconds,
    int MinimumRows = 100,
    DriftPolicy? Drift = null,
    double PerformanceTolerance = 0.05,
    int CooldownMinutes = 60)
{
    public const int MaxWindowRows = 1_000_000;
    public const int MaxWindowMinutes = 60 * 24 * 31;

    /// <summary>Short enough for tests and demos, long enough that a model cannot keep the monitor busy.</summary>
    public const int MinEvaluationIntervalSeconds = 5;

    public const int DefaultEvaluationIntervalSeconds = 300;

    public static MonitoringPolicy Default { get; } = new();

    /// <summary>The window, never null (a PUT may leave it out).</summary>
    public MonitoringWindow EffectiveWindow => Window ?? new MonitoringWindow();

    /// <summary>The drift thresholds, never null.</summary>
    public DriftPolicy EffectiveDrift => Drift ?? DriftPolicy.Default;

    /// <summary>This policy with every part filled in, as stored and returned.</summary>
    public MonitoringPolicy Normalised() => this with { Window = EffectiveWindow, Drift = EffectiveDrift };

    /// <summary>Every problem, by snake_case field name (drift thresholds under <c>drift.</c>); empty when usable.</summary>
    public IReadOnlyDictionary<string, string[]> Validate(ModelSchema? schema)
    {
        var errors = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
        var window = EffectiveWindow;
        if (!Enum.IsDefined(window.Kind))
        {
            errors["window.kind"] = ["must be 'time' or 'count'."];
        }

        Range(errors, "window.minutes", window.Minutes, 1, MaxWindowMinutes);
        Range(errors, "window.rows", window.Rows, 1, MaxWindowRows);
        Range(errors, "evaluation_interval_seconds", EvaluationIntervalSeconds, MinEvaluationIntervalSeconds, 7 * 24 * 3600);
        Range(errors, "minimum_rows", MinimumRows, 1, MaxWindowRows);
        Range(errors, "cooldown_minutes", CooldownMinutes, 0, 365 * 24 * 60);
        if (!double.IsFinite(PerformanceTolerance) || PerformanceTolerance < 0 || PerformanceTolerance > 1000)
        {
            errors["performance_tolerance"] = ["must be a number between 0 and 1000 (in the metric's units)."];
        }

        foreach (var (field, messages) in EffectiveDrift.Validate(schema))
        {
            errors["drift." + field] = messages;
        }

        return errors;
    }

    private static void Range(SortedDictionary<string, string[]> errors, string field, int value, int low, int high)
    {
        if (value < low || value > high)
        {
            errors[field] = [string.Create(CultureInfo.InvariantCulture, $"must be between {low} and {high}; {value} is not.")];
        }
    }
}
