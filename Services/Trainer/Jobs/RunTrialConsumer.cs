using Flywheel.Contracts.Training;
using Flywheel.Training;
using MassTransit;

namespace Flywheel.Trainer.Jobs;

/// <summary>
/// Scores one hyperparameter candidate: trains on the training split less its latest (or a
/// seeded) fifth, and evaluates on that fifth, so the held-out test split stays untouched by the
/// search. Trials are competing consumers: every trainer replica takes them, each at most
/// <see cref="TrainerOptions.MaxConcurrentJobs"/> at a time.
/// </summary>
public sealed partial class RunTrialConsumer(SnapshotReader snapshots, ILogger<RunTrialConsumer> logger) : IConsumer<RunTrial>
{
    public async Task Consume(ConsumeContext<RunTrial> context)
    {
        var trial = context.Message;
        try
        {
            var schema = await snapshots.ReadSchemaAsync(trial.Model, context.CancellationToken);
            var rows = await snapshots.ReadRowsAsync(trial.SnapshotId, schema, context.CancellationToken);
            var split = DataSplit.Split(rows, trial.Seed);
            var validation = DataSplit.Split(split.Train, trial.Seed);
            var trainer = TrainerNames.Parse(trial.Trainer);
            if (trial.Hyperparameters is { } given && Hyperparameters.Validate(trainer, given) is { Count: > 0 } invalid)
            {
                throw new TrainingException(string.Join("; ", invalid.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
            }

            var hyperparameters = trial.Hyperparameters is { } chosen
                ? Hyperparameters.Resolve(trainer, chosen)
                : Hyperparameters.Sample(trainer, new Random(unchecked((trial.Seed * 7_919) + trial.Trial)));

            using var model = ModelTrainer.Train(schema, validation.Train, new TrainingSpec(trainer, hyperparameters, trial.Seed));
            var evaluation = Evaluation.Evaluate(schema, model, validation.Test, model.Predict(validation.Test));
            LogScored(trial.RunId, trial.Trial, trial.Trainer, evaluation.Selection, evaluation.SelectionValue);
            await context.Publish(new TrialCompleted(
                trial.RunId, trial.Trial, trial.Trainer, hyperparameters, evaluation.Selection, evaluation.SelectionValue, evaluation.HigherIsBetter));
        }
        catch (TrainingException exception)
        {
            await context.Publish(new TrialFailed(trial.RunId, trial.Trial, $"{trial.Trainer}: {exception.Message}"));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Training run {RunId}: trial {Trial} ({Trainer}) scored {Metric} {Value}")]
    private partial void LogScored(Guid runId, int trial, string trainer, string metric, double value);
}
