using Flywheel.Console.Data;
using Flywheel.Console.Platform;
using static Flywheel.Console.Tests.Fakes.Views;

namespace Flywheel.Console.Tests.Data;

public sealed class SnapshotTextTests
{
    [Fact]
    public void Snapshots_come_from_the_newest_runs_one_row_per_snapshot()
    {
        var shared = Guid.NewGuid();
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        TrainingRunView[] runs =
        [
            Run("succeeded") with { RunId = Guid.NewGuid(), SnapshotId = shared, RequestedAt = start },
            Run("failed") with { RunId = Guid.NewGuid(), SnapshotId = null, RequestedAt = start.AddHours(3) },
            Run("succeeded") with { RunId = Guid.NewGuid(), SnapshotId = shared, RequestedAt = start.AddHours(2) },
            Run("succeeded") with { RunId = Guid.NewGuid(), SnapshotId = Guid.NewGuid(), RequestedAt = start.AddHours(1) },
        ];

        var latest = SnapshotText.Latest(runs, 5);

        Assert.Equal([runs[2].RunId, runs[3].RunId], latest.Select(r => r.RunId));
        Assert.Single(SnapshotText.Latest(runs, 1));
    }

    [Fact]
    public void A_snapshot_window_reads_open_or_closed_at_either_end()
    {
        var to = new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero);
        var snapshot = new SnapshotView(Guid.NewGuid(), "m", null, null, 10, "ab", null, 10, 0);

        Assert.Equal("all rows", SnapshotText.Window(snapshot));
        Assert.Equal("before 2026-02-01 00:00:00 UTC", SnapshotText.Window(snapshot with { To = to }));
        Assert.Equal("from 2026-01-01 00:00:00 UTC", SnapshotText.Window(snapshot with { From = to.AddMonths(-1) }));
        Assert.Equal("2026-01-01 00:00:00 UTC to 2026-02-01 00:00:00 UTC", SnapshotText.Window(snapshot with { From = to.AddMonths(-1), To = to }));
    }
}
