using Flywheel.Console.Platform;
using Flywheel.Console.Runs;

namespace Flywheel.Console.Tests.Runs;

public sealed class StepTimelineTests
{
    private static readonly DateTimeOffset Requested = new(2026, 1, 3, 10, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(double seconds) => Requested.AddSeconds(seconds);

    [Fact]
    public void Steps_are_shown_in_the_order_they_started_whatever_order_they_were_reported_in()
    {
        RunStepView[] steps =
        [
            new("train", "succeeded", At(5), At(9), null),
            new("snapshot", "succeeded", At(1), At(2), null),
            new("split", "succeeded", At(3), At(4), null),
        ];

        var timeline = StepTimeline.Build(steps, Requested, At(10));

        Assert.Equal(["snapshot", "split", "train"], timeline.Select(s => s.Name));
        Assert.Equal([1, 2, 3], timeline.Select(s => s.Position));
    }

    [Fact]
    public void Steps_that_started_together_follow_the_order_a_run_takes_and_unknown_steps_go_last()
    {
        RunStepView[] steps =
        [
            new("warmup", "succeeded", At(1), At(1), null),
            new("parity", "succeeded", At(1), At(1), null),
            new("export", "succeeded", At(1), At(1), null),
            new("register", "running", null, null, null),
        ];

        var timeline = StepTimeline.Build(steps, Requested, At(2));

        Assert.Equal(["export", "parity", "warmup", "register"], timeline.Select(s => s.Name));
    }

    [Fact]
    public void A_finished_step_lasts_from_its_start_to_its_finish_counted_from_the_request()
    {
        var step = Assert.Single(StepTimeline.Build([new("train", "succeeded", At(5), At(17.5), "lightgbm on 800 rows")], Requested, At(60)));

        Assert.Equal(TimeSpan.FromSeconds(12.5), step.Duration);
        Assert.False(step.StillRunning);
        Assert.Equal(TimeSpan.FromSeconds(5), step.Offset);
        Assert.Equal("Train", step.Label);
        Assert.Equal("lightgbm on 800 rows", step.Detail);
    }

    [Fact]
    public void A_running_step_has_lasted_until_now()
    {
        var step = Assert.Single(StepTimeline.Build([new("train", "running", At(5), null, null)], Requested, At(35)));

        Assert.Equal(TimeSpan.FromSeconds(30), step.Duration);
        Assert.True(step.StillRunning);
    }

    [Fact]
    public void A_failed_step_without_a_finish_has_no_duration()
    {
        var step = Assert.Single(StepTimeline.Build([new("parity", "failed", At(5), null, "differs")], Requested, At(35)));

        Assert.Null(step.Duration);
        Assert.False(step.StillRunning);
    }

    [Fact]
    public void Clock_skew_between_services_never_shows_a_negative_time()
    {
        var step = Assert.Single(StepTimeline.Build([new("snapshot", "succeeded", At(-2), At(-3), null)], Requested, At(0)));

        Assert.Equal(TimeSpan.Zero, step.Duration);
        Assert.Equal(TimeSpan.Zero, step.Offset);
    }

    [Theory]
    [InlineData("snapshot", "Snapshot the training data")]
    [InlineData("search", "Hyperparameter search")]
    [InlineData("export", "Export to ONNX")]
    [InlineData("parity", "Check ONNX parity")]
    [InlineData("register", "Register the version")]
    [InlineData("feature_selection", "Feature selection")]
    public void Steps_have_readable_labels(string name, string label) => Assert.Equal(label, StepTimeline.Label(name));

    [Fact]
    public void The_canonical_order_is_the_one_the_contracts_define() =>
        Assert.Equal(
            ["snapshot", "search", "split", "train", "evaluate", "export", "parity", "profile", "upload", "register"],
            StepTimeline.Canonical);
}
