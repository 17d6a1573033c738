using System.Collections.Concurrent;
using Flywheel.Core.Schema;
using Flywheel.Training;

namespace Flywheel.Training.Tests;

/// <summary>One model per trainer × task on the synthetic data, trained once and shared by the tests that only read it.</summary>
public sealed class TrainedModels : IDisposable
{
    private readonly ConcurrentDictionary<(TrainerKind, ModelTask), Lazy<Trained>> _models = new();

    public static TheoryData<TrainerKind, ModelTask> All()
    {
        var data = new TheoryData<TrainerKind, ModelTask>();
        foreach (var trainer in Enum.GetValues<TrainerKind>())
        {
            foreach (var task in Enum.GetValues<ModelTask>())
            {
                data.Add(trainer, task);
            }
        }

        return data;
    }

    public Trained Get(TrainerKind trainer, ModelTask task) =>
        _models.GetOrAdd((trainer, task), key => new Lazy<Trained>(() => Trained.Fit(key.Item1, key.Item2))).Value;

    public void Dispose()
    {
        foreach (var model in _models.Values.Where(m => m.IsValueCreated))
        {
            model.Value.Model.Dispose();
        }
    }
}

public sealed record Trained(ModelSchema Schema, DataSplitResult Split, TrainedModel Model, Predictions TestPredictions, byte[] Onnx)
{
    public static Trained Fit(TrainerKind trainer, ModelTask task)
    {
        var schema = SyntheticData.Schema(task);
        var split = DataSplit.Split(SyntheticData.Rows(task), seed: 7);
        var model = ModelTrainer.Train(schema, split.Train, new TrainingSpec(trainer, new Dictionary<string, double>(), Seed: 42));
        return new Trained(schema, split, model, model.Predict(split.Test), model.ExportOnnx());
    }
}
