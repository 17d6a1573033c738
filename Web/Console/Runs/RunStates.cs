using Flywheel.Console.Display;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Runs;

/// <summary>A run's state in words, and whether it can still change.</summary>
public static class RunStates
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    /// <summary>Queued and running runs still move; a page showing one keeps refreshing.</summary>
    public static bool IsActive(string? state) =>
        string.Equals(state, Queued, StringComparison.OrdinalIgnoreCase) || string.Equals(state, Running, StringComparison.OrdinalIgnoreCase);

    public static string Label(string? state) => string.IsNullOrEmpty(state) ? "Unknown" : Format.Humanize(state.ToLowerInvariant());

    /// <summary>
    /// How long the run has taken: up to <paramref name="now"/> while it is active, otherwise up to
    /// its last finished step (or its last update when no step finished).
    /// </summary>
    public static TimeSpan Elapsed(TrainingRunView run, DateTimeOffset now)
    {
        if (IsActive(run.State))
        {
            return Clamp(now - run.RequestedAt);
        }

        var end = run.Steps.Select(s => s.FinishedAt).Max() ?? run.UpdatedAt ?? run.RequestedAt;
        return Clamp(end - run.RequestedAt);
    }

    private static TimeSpan Clamp(TimeSpan span) => span < TimeSpan.Zero ? TimeSpan.Zero : span;
}
