using Flywheel.Console.Display;
using Flywheel.Console.Platform;
using Flywheel.Contracts.Training;

namespace Flywheel.Console.Runs;

/// <summary>
/// One step on a run's timeline. <see cref="Duration"/> is finished − started, or, while the step
/// runs, the time since it started (<see cref="StillRunning"/>). <see cref="Offset"/> is when it
/// started, counted from the run's request.
/// </summary>
public sealed record TimelineStep(
    int Position,
    string Name,
    string Label,
    string State,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    TimeSpan? Duration,
    bool StillRunning,
    TimeSpan? Offset,
    string? Detail);

public static class StepTimeline
{
    /// <summary>The steps in the order a run takes them (Flywheel.Contracts.Training.TrainingSteps).</summary>
    public static readonly IReadOnlyList<string> Canonical =
    [
        TrainingSteps.Snapshot, TrainingSteps.Search, TrainingSteps.Split, TrainingSteps.Train, TrainingSteps.Evaluate,
        TrainingSteps.Export, TrainingSteps.Parity, TrainingSteps.Profile, TrainingSteps.Upload, TrainingSteps.Register,
    ];

    private static readonly Dictionary<string, int> Rank =
        Canonical.Select((step, index) => (step, index)).ToDictionary(p => p.step, p => p.index, StringComparer.Ordinal);

    private static readonly Dictionary<string, string> Labels = new(StringComparer.Ordinal)
    {
        [TrainingSteps.Snapshot] = "Snapshot the training data",
        [TrainingSteps.Search] = "Hyperparameter search",
        [TrainingSteps.Split] = "Split train / held-out",
        [TrainingSteps.Train] = "Train",
        [TrainingSteps.Evaluate] = "Evaluate on held-out rows",
        [TrainingSteps.Export] = "Export to ONNX",
        [TrainingSteps.Parity] = "Check ONNX parity",
        [TrainingSteps.Profile] = "Profile the training data",
        [TrainingSteps.Upload] = "Upload the artifact",
        [TrainingSteps.Register] = "Register the version",
    };

    public static string Label(string step) => Labels.TryGetValue(step, out var label) ? label : Format.Humanize(step);

    /// <summary>
    /// The steps as they happened: by start time, and where two started at the same moment (or
    /// one has no start), in the order a run takes them; names the console does not know go last.
    /// </summary>
    public static IReadOnlyList<TimelineStep> Build(IEnumerable<RunStepView> steps, DateTimeOffset runRequestedAt, DateTimeOffset now) =>
        [.. steps
            .OrderBy(step => step.StartedAt ?? DateTimeOffset.MaxValue)
            .ThenBy(step => Rank.GetValueOrDefault(step.Name, int.MaxValue))
            .ThenBy(step => step.Name, StringComparer.Ordinal)
            .Select((step, index) => ToTimeline(step, index + 1, runRequestedAt, now))];

    private static TimelineStep ToTimeline(RunStepView step, int position, DateTimeOffset runRequestedAt, DateTimeOffset now)
    {
        var running = step.FinishedAt is null && string.Equals(step.State, TrainingSteps.Running, StringComparison.OrdinalIgnoreCase);
        TimeSpan? duration = (step.StartedAt, step.FinishedAt) switch
        {
            ({ } started, { } finished) => NotNegative(finished - started),
            ({ } started, null) when running => NotNegative(now - started),
            _ => null,
        };
        return new(
            position,
            step.Name,
            Label(step.Name),
            step.State,
            step.StartedAt,
            step.FinishedAt,
            duration,
            running && duration is not null,
            step.StartedAt is { } start ? NotNegative(start - runRequestedAt) : null,
            step.Detail);
    }

    private static TimeSpan NotNegative(TimeSpan span) => span < TimeSpan.Zero ? TimeSpan.Zero : span;
}
