using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Training;

/// <summary>
/// How far ONNX Runtime was from ML.NET over <see cref="Rows"/> rows. <see cref="MaxAbsDiff"/> is the
/// largest absolute difference of a score or probability; <see cref="MaxRelDiff"/> divides each
/// difference by the larger of 1 and the ML.NET value, so it equals the absolute difference for
/// probabilities but stays meaningful for regression values in the thousands, where float32
/// rounding alone moves the absolute difference past 1e-4. <see cref="LabelMismatches"/> counts rows
/// whose predicted class differs (possible only at a near-tie).
/// </summary>
public sealed record ParityResult(int Rows, double MaxAbsDiff, double MaxRelDiff, int LabelMismatches);

/// <summary>
/// Scores rows with the exported ONNX under ONNX Runtime (CPU), fed exactly as a server would feed it
/// (see <see cref="OnnxContract"/>), and compares with ML.NET's predictions of the same rows: the
/// probability (binary), every class probability (multiclass) or the value (regression), and the
/// predicted label. The served model must be the evaluated one; this is the check that says so.
/// </summary>
public static class OnnxParity
{
    private const int BatchSize = 4096;

    public static ParityResult Check(byte[] onnx, ModelSchema schema, IReadOnlyList<TrainingRow> rows, Predictions expected)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(expected);
        if (expected.Scores.Count != rows.Count)
        {
            throw new ArgumentException($"{expected.Scores.Count} predictions were given for {rows.Count} rows.", nameof(expected));
        }

        using var session = new InferenceSession(onnx);
        CheckInputs(session, schema);
        var classes = Classes(session, schema);
        // Bucketed as the model's metadata says, as a worker would: a model trained on buckets that
        // did not say so would get the values and fail here.
        var bucketed = OnnxModelContract.BucketedFeatures(session.ModelMetadata.CustomMetadataMap);
        string[] inputNames = [.. schema.Features.Select(f => OnnxContract.InputName(f.Name))];
        string[] outputNames = schema.Task switch
        {
            ModelTask.Binary => [OnnxContract.ProbabilityOutput, OnnxContract.PredictedLabelOutput],
            ModelTask.Multiclass => [OnnxContract.ScoreOutput, OnnxContract.PredictedLabelOutput],
            _ => [OnnxContract.ScoreOutput],
        };

        using var runOptions = new RunOptions();
        double maxAbs = 0, maxRel = 0;
        var mismatches = 0;
        for (var start = 0; start < rows.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, rows.Count - start);
            var inputs = schema.Features.Select(f => Input(f, bucketed.Contains(f.Name), rows, start, count)).ToArray();
            try
            {
                using var results = session.Run(runOptions, inputNames, inputs, outputNames);
                var scores = results[0].GetTensorDataAsSpan<float>();
                var width = scores.Length / count;
                for (var i = 0; i < count; i++)
                {
                    var wanted = schema.Task == ModelTask.Multiclass
                        ? expected.ClassProbabilities?[start + i] ?? throw new ArgumentException("Multiclass predictions need their class probabilities.", nameof(expected))
                        : [expected.Scores[start + i]];
                    for (var k = 0; k < width; k++)
                    {
                        var diff = Diff(wanted[k], scores[(i * width) + k]);
                        maxAbs = Math.Max(maxAbs, diff);
                        maxRel = Math.Max(maxRel, diff / Math.Max(1, Math.Abs(wanted[k])));
                    }
                }

                if (schema.Task != ModelTask.Regression)
                {
                    var labels = Labels(results[1], classes, schema.Task, count);
                    mismatches += labels.Where((label, i) => label != expected.Labels?[start + i]).Count();
                }
            }
            finally
            {
                foreach (var input in inputs)
                {
                    input.Dispose();
                }
            }
        }

        return new ParityResult(rows.Count, maxAbs, maxRel, mismatches);
    }

    /// <summary>Refuses a model whose inputs are not exactly the schema's features, typed as the contract says.</summary>
    private static void CheckInputs(InferenceSession session, ModelSchema schema)
    {
        var expected = schema.Features.ToDictionary(
            f => OnnxContract.InputName(f.Name), f => f.Type == FeatureType.Categorical ? typeof(string) : typeof(float), StringComparer.Ordinal);
        foreach (var (name, metadata) in session.InputMetadata)
        {
            if (!expected.TryGetValue(name, out var type) || metadata.ElementType != type)
            {
                throw new TrainingException($"The ONNX model's input '{name}' ({metadata.ElementType.Name}) is not a feature of '{schema.Name}' as its schema types it.");
            }
        }

        var absent = expected.Keys.Except(session.InputMetadata.Keys).ToArray();
        if (absent.Length > 0)
        {
            throw new TrainingException($"The ONNX model has no input for the feature(s) {string.Join(", ", absent)}.");
        }
    }

    private static string[] Classes(InferenceSession session, ModelSchema schema)
    {
        if (!session.ModelMetadata.CustomMetadataMap.TryGetValue(OnnxContract.ClassesMetadata, out var json) ||
            JsonSerializer.Deserialize<string[]>(json) is not { } classes ||
            (schema.Task == ModelTask.Binary && classes.Length != 2))
        {
            throw new TrainingException($"The ONNX model does not name its classes in '{OnnxContract.ClassesMetadata}' metadata; it was not exported by TrainedModel.ExportOnnx.");
        }

        return classes;
    }

    private static OrtValue Input(FeatureDefinition feature, bool bucketed, IReadOnlyList<TrainingRow> rows, int start, int count)
    {
        long[] shape = [count, 1];
        if (feature.Type == FeatureType.Categorical)
        {
            var texts = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            for (var i = 0; i < count; i++)
            {
                texts.StringTensorSetElementAt(FeatureValues.ToText(FeatureColumns.Category(feature, rows, start + i), bucketed).AsSpan(), i);
            }

            return texts;
        }

        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = FeatureColumns.Number(feature, rows, start + i);
        }

        return OrtValue.CreateTensorValueFromMemory(values, shape);
    }

    /// <summary>Predicted class names: multiclass models output them; binary models output true for the positive class.</summary>
    private static string[] Labels(OrtValue output, string[] classes, ModelTask task, int count) =>
        task == ModelTask.Multiclass
            ? output.GetStringTensorAsArray()
            : [.. output.GetTensorDataAsSpan<bool>()[..count].ToArray().Select(positive => classes[positive ? 1 : 0])];

    /// <summary>The absolute difference; two NaNs agree, one NaN is an infinite disagreement.</summary>
    private static double Diff(double expected, float actual) =>
        (double.IsNaN(expected), float.IsNaN(actual)) switch
        {
            (true, true) => 0,
            (false, false) => Math.Abs(expected - actual),
            _ => double.PositiveInfinity,
        };
}
