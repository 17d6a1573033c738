using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Flywheel.Training.Tests;

/// <summary>Every trainer on every task: it learns, its ONNX takes exactly the features, and ONNX Runtime agrees with ML.NET.</summary>
public sealed class TrainerMatrixTests(TrainedModels models) : IClassFixture<TrainedModels>
{
    private const double ParityTolerance = 1e-4;

    public static TheoryData<TrainerKind, ModelTask> All() => TrainedModels.All();

    [Theory]
    [MemberData(nameof(All))]
    public void Predictions_on_the_test_split_beat_chance(TrainerKind trainer, ModelTask task)
    {
        var trained = models.Get(trainer, task);
        var test = trained.Split.Test;
        var predicted = trained.TestPredictions;

        switch (task)
        {
            case ModelTask.Binary:
                Assert.Equal(["false", "true"], trained.Model.Classes);
                Assert.InRange(Auc([.. test.Select(r => (bool)r.Target!)], predicted.Scores), 0.75, 1);
                Assert.True(Accuracy(test, predicted) > MajorityRate(test) + 0.05);
                break;
            case ModelTask.Multiclass:
                Assert.Equal(["high", "low", "medium"], trained.Model.Classes);
                Assert.All(predicted.ClassProbabilities!, p => Assert.Equal(1, p.Sum(), 3));
                Assert.True(Accuracy(test, predicted) > MajorityRate(test) + 0.15);
                break;
            default:
                Assert.Empty(trained.Model.Classes);
                Assert.Null(predicted.Labels);
                Assert.InRange(RSquared([.. test.Select(r => (double)r.Target!)], predicted.Scores), 0.5, 1);
                break;
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void The_onnx_inputs_are_exactly_the_features_with_their_element_types(TrainerKind trainer, ModelTask task)
    {
        var trained = models.Get(trainer, task);
        using var session = new InferenceSession(trained.Onnx);

        Assert.Equal(trained.Schema.Features.Select(f => f.Name), session.InputNames);
        foreach (var feature in trained.Schema.Features)
        {
            var input = session.InputMetadata[feature.Name];
            Assert.Equal(feature.Type == FeatureType.Categorical ? TensorElementType.String : TensorElementType.Float, input.ElementDataType);
            Assert.Equal([-1, 1], input.Dimensions);
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void The_onnx_outputs_follow_the_contract(TrainerKind trainer, ModelTask task)
    {
        var trained = models.Get(trainer, task);
        using var session = new InferenceSession(trained.Onnx);
        var outputs = session.OutputMetadata.ToDictionary(o => o.Key, o => (o.Value.ElementDataType, o.Value.Dimensions));

        var expected = task switch
        {
            ModelTask.Binary => new Dictionary<string, (TensorElementType, int[])>
            {
                [OnnxContract.PredictedLabelOutput] = (TensorElementType.Bool, [-1, 1]),
                [OnnxContract.ScoreOutput] = (TensorElementType.Float, [-1, 1]),
                [OnnxContract.ProbabilityOutput] = (TensorElementType.Float, [-1, 1]),
            },
            ModelTask.Multiclass => new()
            {
                [OnnxContract.PredictedLabelOutput] = (TensorElementType.String, [-1, 1]),
                [OnnxContract.ScoreOutput] = (TensorElementType.Float, [-1, 3]),
            },
            _ => new() { [OnnxContract.ScoreOutput] = (TensorElementType.Float, [-1, 1]) },
        };
        Assert.Equal(expected.Keys.Order(), outputs.Keys.Order());
        foreach (var (name, (type, shape)) in expected)
        {
            Assert.Equal(type, outputs[name].ElementDataType);
            Assert.Equal(shape, outputs[name].Dimensions);
        }

        var metadata = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(task.ToString().ToLowerInvariant(), metadata[OnnxContract.TaskMetadata]);
        Assert.Equal(JsonSerializer.Serialize(trained.Model.Classes), metadata[OnnxContract.ClassesMetadata]);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Onnx_runtime_matches_mlnet_on_the_test_split(TrainerKind trainer, ModelTask task)
    {
        var trained = models.Get(trainer, task);

        var parity = OnnxParity.Check(trained.Onnx, trained.Schema, trained.Split.Test, trained.TestPredictions);

        Assert.Equal(trained.Split.Test.Count, parity.Rows);
        Assert.InRange(parity.MaxAbsDiff, 0, ParityTolerance);
        Assert.Equal(0, parity.LabelMismatches);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void An_unseen_or_missing_category_scores_like_no_category_in_mlnet_and_onnx(TrainerKind trainer, ModelTask task)
    {
        var trained = models.Get(trainer, task);
        var sample = trained.Split.Test.Take(50).ToList();
        var unseen = SyntheticData.With(sample, "merchant_category", "never-seen-in-training");
        var missing = SyntheticData.With(sample, "merchant_category", null);
        var rows = unseen.Concat(missing).ToList();

        var predicted = trained.Model.Predict(rows);
        var parity = OnnxParity.Check(trained.Onnx, trained.Schema, rows, predicted);

        Assert.Equal(predicted.Scores.Take(sample.Count), predicted.Scores.Skip(sample.Count));
        Assert.InRange(parity.MaxAbsDiff, 0, ParityTolerance);
        Assert.Equal(0, parity.LabelMismatches);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void Missing_numbers_and_booleans_score_in_mlnet_and_onnx(TrainerKind trainer, ModelTask task)
    {
        var trained = models.Get(trainer, task);
        var sample = trained.Split.Test.Take(50).ToList();
        var rows = SyntheticData.With(SyntheticData.With(sample, "amount", null), "is_online", null);

        var predicted = trained.Model.Predict(rows);
        var parity = OnnxParity.Check(trained.Onnx, trained.Schema, rows, predicted);

        Assert.All(predicted.Scores, s => Assert.True(double.IsFinite(s)));
        Assert.InRange(parity.MaxAbsDiff, 0, ParityTolerance);
    }

    private static double Accuracy(IReadOnlyList<TrainingRow> rows, Predictions predicted) =>
        rows.Zip(predicted.Labels!).Count(p => Label(p.First.Target) == p.Second) / (double)rows.Count;

    private static double MajorityRate(IReadOnlyList<TrainingRow> rows) =>
        rows.GroupBy(r => Label(r.Target)).Max(g => g.Count()) / (double)rows.Count;

    private static string Label(object? target) => target is bool flag ? (flag ? "true" : "false") : (string)target!;

    /// <summary>The chance that a random positive scores above a random negative (ties count half).</summary>
    private static double Auc(IReadOnlyList<bool> actual, IReadOnlyList<double> scores)
    {
        var positives = scores.Where((_, i) => actual[i]).ToArray();
        var negatives = scores.Where((_, i) => !actual[i]).ToArray();
        var wins = positives.Sum(p => negatives.Sum(n => p > n ? 1.0 : p == n ? 0.5 : 0));
        return wins / (positives.Length * (double)negatives.Length);
    }

    private static double RSquared(IReadOnlyList<double> actual, IReadOnlyList<double> predicted)
    {
        var mean = actual.Average();
        var residual = actual.Zip(predicted).Sum(p => Math.Pow(p.First - p.Second, 2));
        var total = actual.Sum(a => Math.Pow(a - mean, 2));
        return 1 - (residual / total);
    }
}
