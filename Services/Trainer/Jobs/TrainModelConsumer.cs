using System.Diagnostics;
using System.Text.Json;
using Flywheel.Contracts.Training;
using Flywheel.Core.Profiles;
using Flywheel.Training;
using MassTransit;

namespace Flywheel.Trainer.Jobs;

/// <summary>
/// Trains one model for a run: split → train → evaluate → export ONNX → parity → profile →
/// upload. Each step is reported as it starts and ends. Deterministic for the same snapshot,
/// trainer, hyperparameters and seed, so a job redelivered after a crash produces the same
/// artifact at the same content address, and the run takes whichever result reaches it first.
/// A problem with the data or the request fails the run with its reason; anything else is
/// retried a bounded number of times and then fails the run through its fault.
/// </summary>
public sealed partial class TrainModelConsumer(SnapshotReader snapshots, ArtifactStore artifacts, ILogger<TrainModelConsumer> logger) : IConsumer<TrainModel>
{
    /// <summary>The most an ONNX prediction may differ from ML.NET's on the held-out rows.</summary>
    public const double ParityTolerance = 1e-4;

    public async Task Consume(ConsumeContext<TrainModel> context)
    {
        var job = context.Message;
        var step = TrainingSteps.Split;
        try
        {
            await StepAsync(context, step, TrainingSteps.Running);
            var schema = await snapshots.ReadSchemaAsync(job.Model, context.CancellationToken);
            var rows = await snapshots.ReadRowsAsync(job.SnapshotId, schema, context.CancellationToken);
            var split = DataSplit.Split(rows, job.Seed);
            await StepAsync(context, step, TrainingSteps.Succeeded, $"{split.Method} split: {split.Train.Count} training rows, {split.Test.Count} held out");

            step = TrainingSteps.Train;
            var trainer = TrainerNames.Parse(job.Trainer);
            if (Hyperparameters.Validate(trainer, job.Hyperparameters) is { Count: > 0 } invalid)
            {
                throw new TrainingException(string.Join("; ", invalid.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
            }

            var hyperparameters = Hyperparameters.Resolve(trainer, job.Hyperparameters);

            await StepAsync(context, step, TrainingSteps.Running, $"{job.Trainer} on {split.Train.Count} rows");
            var clock = Stopwatch.StartNew();
            using var model = ModelTrainer.Train(schema, split.Train, new TrainingSpec(trainer, hyperparameters, job.Seed));
            await StepAsync(context, step, TrainingSteps.Succeeded, $"{clock.Elapsed.TotalSeconds:F1} s");

            step = TrainingSteps.Evaluate;
            await StepAsync(context, step, TrainingSteps.Running);
            var predictions = model.Predict(split.Test);
            var evaluation = Evaluation.Evaluate(schema, model, split.Test, predictions);
            await StepAsync(context, step, TrainingSteps.Succeeded, $"{evaluation.Selection} {evaluation.SelectionValue:G6} on {split.Test.Count} held-out rows");

            step = TrainingSteps.Export;
            await StepAsync(context, step, TrainingSteps.Running);
            var onnx = model.ExportOnnx();
            await StepAsync(context, step, TrainingSteps.Succeeded, $"{onnx.Length} bytes");

            step = TrainingSteps.Parity;
            await StepAsync(context, step, TrainingSteps.Running);
            var parity = OnnxParity.Check(onnx, schema, split.Test, predictions);
            if (!(parity.MaxRelDiff <= ParityTolerance) || parity.LabelMismatches > 0)
            {
                throw new TrainingException(
                    $"ONNX Runtime differs from ML.NET by up to {parity.MaxAbsDiff:G3} (relative {parity.MaxRelDiff:G3}) with {parity.LabelMismatches} different labels on {parity.Rows} held-out rows (tolerance {ParityTolerance:G1})");
            }

            await StepAsync(context, step, TrainingSteps.Succeeded, $"max |ONNX − ML.NET| = {parity.MaxAbsDiff:G3} on {parity.Rows} rows");

            step = TrainingSteps.Profile;
            await StepAsync(context, step, TrainingSteps.Running);
            var trainingScores = model.Predict(split.Train).Scores;
            var profile = ProfileBuilder.Build(schema, split.Train.Select(r => r.Features), trainingScores);
            var profileJson = JsonSerializer.Serialize(profile, ProfileJson);
            await StepAsync(context, step, TrainingSteps.Succeeded, $"{profile.Features.Count} features over {profile.Rows} rows");

            step = TrainingSteps.Upload;
            await StepAsync(context, step, TrainingSteps.Running);
            var artifact = await artifacts.UploadAsync(job.Model, onnx, context.CancellationToken);
            await StepAsync(context, step, TrainingSteps.Succeeded, $"sha256 {artifact.Sha256}");

            LogTrained(job.RunId, job.Model, artifact.Sha256, parity.MaxAbsDiff);
            await context.Publish(new ModelTrained(
                job.RunId, job.Trainer, hyperparameters, artifact, evaluation.Metrics,
                new ParityReport(parity.Rows, parity.MaxAbsDiff, parity.MaxRelDiff, parity.LabelMismatches, ParityTolerance),
                new SplitReport(split.Method, split.Train.Count, split.Test.Count),
                profileJson, BuildInfo.Version));
        }
        catch (TrainingException exception)
        {
            LogFailed(job.RunId, step, exception.Message);
            await StepAsync(context, step, TrainingSteps.Failed, exception.Message);
            await context.Publish(new TrainingFailed(job.RunId, step, exception.Message));
        }
    }

    /// <summary>Profiles are stored as JSON with the platform's snake_case names.</summary>
    internal static readonly JsonSerializerOptions ProfileJson = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static Task StepAsync(ConsumeContext<TrainModel> context, string step, string state, string? detail = null) =>
        context.Publish(new TrainingStepProgressed(context.Message.RunId, step, state, DateTimeOffset.UtcNow, detail));

    [LoggerMessage(Level = LogLevel.Information, Message = "Training run {RunId}: trained {Model}, artifact {Sha256}, parity {Parity}")]
    private partial void LogTrained(Guid runId, string model, string sha256, double parity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Training run {RunId} failed at {Step}: {Reason}")]
    private partial void LogFailed(Guid runId, string step, string reason);
}

/// <summary>The API's trainer names.</summary>
public static class TrainerNames
{
    public static TrainerKind Parse(string name) => name switch
    {
        "lightgbm" => TrainerKind.LightGbm,
        "fasttree" => TrainerKind.FastTree,
        "sdca" => TrainerKind.Sdca,
        _ => throw new TrainingException($"'{name}' is not a trainer: use lightgbm, fasttree or sdca"),
    };
}
