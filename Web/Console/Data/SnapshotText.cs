using Flywheel.Console.Display;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Data;

public static class SnapshotText
{
    /// <summary>The newest runs that took a snapshot, one run per snapshot, at most <paramref name="count"/>.</summary>
    public static IReadOnlyList<TrainingRunView> Latest(IEnumerable<TrainingRunView> runs, int count) =>
        [.. runs.Where(run => run.SnapshotId is not null)
            .OrderByDescending(run => run.RequestedAt)
            .DistinctBy(run => run.SnapshotId)
            .Take(count)];

    /// <summary>The event-time window a snapshot froze: from inclusive, to exclusive.</summary>
    public static string Window(SnapshotView snapshot) => (snapshot.From, snapshot.To) switch
    {
        (null, null) => "all rows",
        ({ } from, null) => $"from {Format.Timestamp(from)}",
        (null, { } to) => $"before {Format.Timestamp(to)}",
        ({ } from, { } to) => $"{Format.Timestamp(from)} to {Format.Timestamp(to)}",
    };
}
