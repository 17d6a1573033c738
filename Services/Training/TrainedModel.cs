using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Flywheel.Training;

/// <summary>
/// What a model predicts for each row. <see cref="Scores"/> is P(positive class) for binary models,
/// the value for regression and the winning class's probability for multiclass;
/// <see cref="ClassProbabilities"/> (multiclass only) follows <see cref="TrainedModel.Classes"/>;
/// <see cref="Labels"/> (classifiers only) is the predicted class name.
/// </summary>
public sealed record Predictions(IReadOnlyList<double> Scores, IReadOnlyList<double[]>? ClassProbabilities, IReadOnlyList<string>? Labels);

/// <summary>
/// A trained ML.NET model with what it needs to score rows and to export itself as ONNX with the
/// inputs described by <see cref="OnnxContract"/>.
/// </summary>
public sealed class TrainedModel : IDisposable
{
    private readonly MLContext _ml;
    private readonly ITransformer _model;

    internal TrainedModel(MLContext ml, ModelSchema schema, ITransformer model, IReadOnlyList<string> classes)
    {
        _ml = ml;
        _model = model;
        Schema = schema;
        Classes = classes;
    }

    /// <summary>The schema the model was trained on; its features are the model's ONNX inputs.</summary>
    public ModelSchema Schema { get; }

    /// <summary>Class names in output order: sorted for multiclass; negative then positive for binary (["false", "true"] for a boolean target); empty for regression.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>ML.NET's own predictions for <paramref name="rows"/> (their targets are ignored).</summary>
    public Predictions Predict(IReadOnlyList<TrainingRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var scored = _model.Transform(FeatureColumns.View(Schema, rows));
        var scores = new double[rows.Count];
        using var cursor = scored.GetRowCursor(scored.Schema);
        var score = scored.Schema[OnnxContract.ScoreColumn];
        switch (Schema.Task)
        {
            case ModelTask.Regression:
            {
                var getScore = cursor.GetGetter<float>(score);
                var value = 0f;
                for (var i = 0; cursor.MoveNext(); i++)
                {
                    getScore(ref value);
                    scores[i] = value;
                }

                return new Predictions(scores, null, null);
            }

            case ModelTask.Binary:
            {
                var getProbability = cursor.GetGetter<float>(scored.Schema[OnnxContract.ProbabilityColumn]);
                var getLabel = cursor.GetGetter<bool>(scored.Schema[OnnxContract.PredictedLabelColumn]);
                var labels = new string[rows.Count];
                var probability = 0f;
                var label = false;
                for (var i = 0; cursor.MoveNext(); i++)
                {
                    getProbability(ref probability);
                    getLabel(ref label);
                    scores[i] = probability;
                    labels[i] = Classes[label ? 1 : 0];
                }

                return new Predictions(scores, null, labels);
            }

            default:
            {
                var getScores = cursor.GetGetter<VBuffer<float>>(score);
                var getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(scored.Schema[OnnxContract.PredictedLabelColumn]);
                var probabilities = new double[rows.Count][];
                var labels = new string[rows.Count];
                var vector = default(VBuffer<float>);
                var label = default(ReadOnlyMemory<char>);
                for (var i = 0; cursor.MoveNext(); i++)
                {
                    getScores(ref vector);
                    getLabel(ref label);
                    probabilities[i] = [.. vector.DenseValues().Select(p => (double)p)];
                    scores[i] = probabilities[i].Max();
                    labels[i] = label.ToString();
                }

                return new Predictions(scores, probabilities, labels);
            }
        }
    }

    /// <summary>
    /// The model as ONNX: inputs are exactly the features (see <see cref="OnnxContract"/>), outputs the
    /// score, probability and predicted label. Exported against a view of the features alone, so the
    /// graph asks for no label. The same training gives the same bytes, fit for content addressing.
    /// </summary>
    public byte[] ExportOnnx()
    {
        using var stream = new MemoryStream();
        var outputs = OnnxContract.Outputs(Schema.Task);
        _ml.Model.ConvertToOnnx(_model, FeatureColumns.View(Schema, []), stream, [.. outputs.Select(o => o.Column)]);
        List<KeyValuePair<string, string>> metadata =
        [
            new(OnnxContract.TaskMetadata, Schema.Task.ToString().ToLowerInvariant()),
            new(OnnxContract.ClassesMetadata, JsonSerializer.Serialize(Classes)),
        ];
        if (Schema.Features.Where(FeatureValues.IsBucketed).Select(f => f.Name).ToArray() is { Length: > 0 } bucketed)
        {
            metadata.Add(new(OnnxContract.PiiBucketsMetadata, JsonSerializer.Serialize(bucketed)));
        }

        return OnnxRewriter.Rewrite(stream.ToArray(), outputs.Select(o => o.Output).ToHashSet(StringComparer.Ordinal), metadata);
    }

    /// <summary>The ML.NET model itself (a .zip ML.NET loads back), for serving it with ML.NET's own engines.</summary>
    public void SaveMlNet(Stream stream) => _ml.Model.Save(_model, FeatureColumns.View(Schema, []).Schema, stream);

    public void Dispose() => (_model as IDisposable)?.Dispose();
}
