using Flywheel.Console.Platform;
using Flywheel.Console.Runs;
using static Flywheel.Console.Tests.Fakes.Views;

namespace Flywheel.Console.Tests.Runs;

public sealed class RunStatesTests
{
    [Theory]
    [InlineData("queued", true)]
    [InlineData("running", true)]
    [InlineData("Running", true)]
    [InlineData("succeeded", false)]
    [InlineData("failed", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Only_queued_and_running_runs_are_still_moving(string? state, bool active) => Assert.Equal(active, RunStates.IsActive(state));

    [Theory]
    [InlineData("succeeded", "Succeeded")]
    [InlineData("RUNNING", "Running")]
    [InlineData(null, "Unknown")]
    public void States_are_labelled(string? state, string label) => Assert.Equal(label, RunStates.Label(state));

    [Fact]
    public void An_active_run_has_been_going_since_its_request()
    {
        var run = Run("running", [new("snapshot", "succeeded", Requested, Requested.AddSeconds(3), null)]);

        Assert.Equal(TimeSpan.FromSeconds(90), RunStates.Elapsed(run, Requested.AddSeconds(90)));
    }

    [Fact]
    public void A_finished_run_took_until_its_last_step_finished()
    {
        var run = Run("succeeded", [
            new("register", "succeeded", Requested.AddSeconds(40), Requested.AddSeconds(42), null),
            new("snapshot", "succeeded", Requested, Requested.AddSeconds(3), null),
        ], updatedAt: Requested.AddSeconds(50));

        Assert.Equal(TimeSpan.FromSeconds(42), RunStates.Elapsed(run, Requested.AddHours(5)));
    }

    [Fact]
    public void A_finished_run_without_finished_steps_took_until_its_last_update() =>
        Assert.Equal(TimeSpan.FromSeconds(7), RunStates.Elapsed(Run("failed", updatedAt: Requested.AddSeconds(7)), Requested.AddHours(1)));

    [Fact]
    public void A_run_that_tells_nothing_more_than_its_request_took_no_time() =>
        Assert.Equal(TimeSpan.Zero, RunStates.Elapsed(Run("failed"), Requested.AddHours(1)));

    [Theory]
    [InlineData(null, null, "—")]
    [InlineData(null, "lightgbm", "lightgbm")]
    [InlineData("fasttree", "auto", "fasttree (asked for auto)")]
    [InlineData("sdca", "sdca", "sdca")]
    [InlineData("sdca", null, "sdca")]
    public void The_trainer_says_what_ran_and_what_was_asked_for(string? used, string? asked, string expected)
    {
        var spec = asked is null ? null : new RunSpecView(asked, null, 0, null, null, 1);

        Assert.Equal(expected, RunText.Trainer(Run("running", trainer: used, spec: spec)));
    }

    [Fact]
    public void The_data_window_reads_open_or_closed_at_either_end()
    {
        var from = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var to = from.AddDays(30);

        Assert.Equal("all data", RunText.Window(null));
        Assert.Equal("all data", RunText.Window(new RunSpecView("lightgbm", null, 0, null, null, 1)));
        Assert.Equal("from 2026-01-01 00:00:00 UTC", RunText.Window(new RunSpecView("lightgbm", null, 0, from, null, 1)));
        Assert.Equal("until 2026-01-31 00:00:00 UTC", RunText.Window(new RunSpecView("lightgbm", null, 0, null, to, 1)));
        Assert.Equal("2026-01-01 00:00:00 UTC to 2026-01-31 00:00:00 UTC", RunText.Window(new RunSpecView("lightgbm", null, 0, from, to, 1)));
    }

    [Fact]
    public void Search_and_seed_read_plainly()
    {
        Assert.Equal("20 trials", RunText.Search(new RunSpecView("auto", null, 20, null, null, 7)));
        Assert.Equal("none", RunText.Search(new RunSpecView("auto", null, 0, null, null, 7)));
        Assert.Equal("none", RunText.Search(null));
        Assert.Equal("7", RunText.Seed(new RunSpecView("auto", null, 0, null, null, 7)));
        Assert.Equal("—", RunText.Seed(null));
    }
}
