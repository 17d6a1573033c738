using Flywheel.Contracts.Training;
using Flywheel.Orchestrator.Training;

namespace Flywheel.Platform.Tests;

/// <summary>A training run lists its steps in the order a run takes them, whatever order the reports are applied in.</summary>
public sealed class TrainingRunStepsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 4, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Reports_applied_out_of_order_still_list_the_steps_in_the_runs_order()
    {
        var run = new TrainingRun();
        run.Record(TrainingSteps.Snapshot, TrainingSteps.Succeeded, T0);
        run.Record(TrainingSteps.Train, TrainingSteps.Succeeded, T0.AddSeconds(2));
        run.Record(TrainingSteps.Export, TrainingSteps.Running, T0.AddSeconds(4));
        run.Record(TrainingSteps.Evaluate, TrainingSteps.Running, T0.AddSeconds(3));
        run.Record(TrainingSteps.Split, TrainingSteps.Succeeded, T0.AddSeconds(1));
        run.Record(TrainingSteps.Evaluate, TrainingSteps.Succeeded, T0.AddSeconds(3.5));
        run.Record(TrainingSteps.Register, TrainingSteps.Running, T0.AddSeconds(9));
        run.Record(TrainingSteps.Parity, TrainingSteps.Running, T0.AddSeconds(5));

        Assert.Equal(
            [TrainingSteps.Snapshot, TrainingSteps.Split, TrainingSteps.Train, TrainingSteps.Evaluate, TrainingSteps.Export, TrainingSteps.Parity, TrainingSteps.Register],
            run.Steps.Select(s => s.Name));
        var evaluate = run.Steps.Single(s => s.Name == TrainingSteps.Evaluate);
        Assert.Equal((TrainingSteps.Succeeded, T0.AddSeconds(3), T0.AddSeconds(3.5)), (evaluate.State, evaluate.StartedAt!.Value, evaluate.FinishedAt!.Value));
    }

    [Fact]
    public void A_late_running_report_never_reopens_a_finished_step_and_a_name_that_is_no_step_goes_last()
    {
        var run = new TrainingRun();
        run.Record("run", TrainingSteps.Failed, T0.AddSeconds(10), "timed out");
        run.Record(TrainingSteps.Search, TrainingSteps.Succeeded, T0.AddSeconds(1), "best of 4");
        run.Record(TrainingSteps.Search, TrainingSteps.Running, T0.AddSeconds(2));
        run.Record(TrainingSteps.Snapshot, TrainingSteps.Succeeded, T0);

        Assert.Equal([TrainingSteps.Snapshot, TrainingSteps.Search, "run"], run.Steps.Select(s => s.Name));
        Assert.Equal((TrainingSteps.Succeeded, "best of 4"), (run.Steps[1].State, run.Steps[1].Detail));
    }

    [Fact]
    public void Every_step_has_its_own_rank_in_the_order_a_run_takes_them()
    {
        string[] order =
        [
            TrainingSteps.Snapshot, TrainingSteps.Search, TrainingSteps.Split, TrainingSteps.Train, TrainingSteps.Evaluate,
            TrainingSteps.Export, TrainingSteps.Parity, TrainingSteps.Profile, TrainingSteps.Upload, TrainingSteps.Register,
        ];
        Assert.Equal(Enumerable.Range(0, order.Length), order.Select(TrainingSteps.Rank));
        Assert.Equal(order.Length, TrainingSteps.Rank("run"));
    }
}
