using System.Globalization;
using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Training;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Trainer.Batch;

/// <summary>
/// Scores rows with one verified ONNX model, fed as <see cref="OnnxContract"/> says (the same
/// encoding training and serving use), and turns each row's outputs into result CSV columns:
/// binary <c>prediction_label</c>, <c>prediction_score</c> (P(positive)); multiclass
/// <c>prediction_label</c> and one <c>prediction_probability_{class}</c> per class; regression
/// <c>prediction_value</c>. Floats are written round-trip (<c>R</c>), so a reader gets the exact
/// float32 ONNX Runtime produced.
/// </summary>
public sealed class BatchScorer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ModelSchema _schema;
    private readonly string[] _classes;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly IReadOnlySet<string> _bucketed;
    private readonly RunOptions _runOptions = new();

    public BatchScorer(byte[] onnx, ModelSchema schema)
    {
        _schema = schema;
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1 };
        _session = new InferenceSession(onnx, options);
        _classes = _session.ModelMetadata.CustomMetadataMap.TryGetValue(OnnxContract.ClassesMetadata, out var json)
            ? JsonSerializer.Deserialize<string[]>(json) ?? []
            : [];
        if (schema.Task != ModelTask.Regression && _classes.Length == 0)
        {
            throw new BatchScoringException($"the ONNX model does not name its classes in '{OnnxContract.ClassesMetadata}' metadata");
        }

        try
        {
            _bucketed = OnnxModelContract.BucketedFeatures(_session.ModelMetadata.CustomMetadataMap);
        }
        catch (InvalidDataException error)
        {
            throw new BatchScoringException(error.Message);
        }

        _inputNames = [.. schema.Features.Select(f => OnnxContract.InputName(f.Name))];
        _outputNames = schema.Task switch
        {
            ModelTask.Binary => [OnnxContract.PredictedLabelOutput, OnnxContract.ProbabilityOutput],
            ModelTask.Multiclass => [OnnxContract.PredictedLabelOutput, OnnxContract.ScoreOutput],
            _ => [OnnxContract.ScoreOutput],
        };
        var absent = _inputNames.Except(_session.InputMetadata.Keys).ToArray();
        if (absent.Length > 0 || _session.InputMetadata.Count != _inputNames.Length)
        {
            throw new BatchScoringException($"the ONNX model's inputs do not match the features of '{schema.Name}'");
        }
    }

    public IReadOnlyList<string> Columns => _schema.Task switch
    {
        ModelTask.Binary => ["prediction_label", "prediction_score"],
        ModelTask.Multiclass => ["prediction_label", .. _classes.Select(c => "prediction_probability_" + c)],
        _ => ["prediction_value"],
    };

    /// <summary>The prediction columns of rows [start, start + count), one array per row.</summary>
    public string[][] Score(IReadOnlyList<TrainingRow> rows, int start, int count)
    {
        var inputs = _schema.Features.Select(f => Input(f, _bucketed.Contains(f.Name), rows, start, count)).ToArray();
        try
        {
            using var results = _session.Run(_runOptions, _inputNames, inputs, _outputNames);
            var scored = new string[count][];
            switch (_schema.Task)
            {
                case ModelTask.Binary:
                    {
                        var labels = results[0].GetTensorDataAsSpan<bool>();
                        var probabilities = results[1].GetTensorDataAsSpan<float>();
                        for (var i = 0; i < count; i++)
                        {
                            scored[i] = [_classes[labels[i] ? 1 : 0], Format(probabilities[i])];
                        }

                        break;
                    }

                case ModelTask.Multiclass:
                    {
                        var labels = results[0].GetStringTensorAsArray();
                        var probabilities = results[1].GetTensorDataAsSpan<float>();
                        var width = _classes.Length;
                        for (var i = 0; i < count; i++)
                        {
                            var row = new string[width + 1];
                            row[0] = labels[i];
                            for (var k = 0; k < width; k++)
                            {
                                row[k + 1] = Format(probabilities[(i * width) + k]);
                            }

                            scored[i] = row;
                        }

                        break;
                    }

                default:
                    {
                        var values = results[0].GetTensorDataAsSpan<float>();
                        for (var i = 0; i < count; i++)
                        {
                            scored[i] = [Format(values[i])];
                        }

                        break;
                    }
            }

            return scored;
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }
    }

    private static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static OrtValue Input(FeatureDefinition feature, bool bucketed, IReadOnlyList<TrainingRow> rows, int start, int count)
    {
        long[] shape = [count, 1];
        if (feature.Type == FeatureType.Categorical)
        {
            var texts = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            for (var i = 0; i < count; i++)
            {
                var text = rows[start + i].Features.TryGetValue(feature.Name, out var value) && value is string s ? s : "";
                texts.StringTensorSetElementAt(FeatureValues.ToText(text, bucketed).AsSpan(), i);
            }

            return texts;
        }

        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = rows[start + i].Features.TryGetValue(feature.Name, out var value) ? value switch
            {
                null => float.NaN,
                bool flag => flag ? 1f : 0f,
                double number => (float)number,
                _ => throw new BatchScoringException($"row {start + i + 1}: '{feature.Name}' holds a {value.GetType().Name}"),
            } : float.NaN;
        }

        return OrtValue.CreateTensorValueFromMemory(values, shape);
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
    }
}
