using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>
/// What the model gave for one row, as its outputs carry it: the predicted label (bool for binary,
/// the class name for multiclass, null for regression), the row of <c>Score.output</c> and, for
/// binary models, <c>Probability.output</c>.
/// </summary>
public sealed record ScoredRow(object? Label, float[] Scores, float? Probability);

/// <summary>The prediction a caller reads (KServe V1 and the prediction log), from what the model gave.</summary>
public static class PredictionOutputs
{
    public const string LabelKey = "label";
    public const string ScoreKey = "score";
    public const string ProbabilitiesKey = "probabilities";
    public const string ValueKey = "value";
    public const string CachedKey = "cached";

    /// <param name="classes">The model's classes in output order (<see cref="OnnxModelContract.ClassesMetadata"/>): negative then positive for binary.</param>
    public static IReadOnlyDictionary<string, object?> Describe(ModelSchema schema, IReadOnlyList<string> classes, ScoredRow row)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(row);
        switch (schema.Task)
        {
            case ModelTask.Binary:
                {
                    var positive = row.Label is true;
                    var probability = (double)(row.Probability ?? throw new ArgumentException("A binary prediction needs its probability.", nameof(row)));
                    object label = schema.Target.Type == FeatureType.Boolean ? positive : classes[positive ? 1 : 0];
                    return new Dictionary<string, object?>(StringComparer.Ordinal)
                    {
                        [LabelKey] = label,
                        [ScoreKey] = probability,
                        [ProbabilitiesKey] = new Dictionary<string, double>(StringComparer.Ordinal)
                        {
                            [classes[1]] = probability,
                            [classes[0]] = 1 - probability,
                        },
                    };
                }

            case ModelTask.Multiclass:
                {
                    if (row.Scores.Length != classes.Count)
                    {
                        throw new ArgumentException($"The model gave {row.Scores.Length} class scores for {classes.Count} classes.", nameof(row));
                    }

                    var label = row.Label as string ?? throw new ArgumentException("A multiclass prediction needs its label.", nameof(row));
                    var probabilities = new Dictionary<string, double>(classes.Count, StringComparer.Ordinal);
                    for (var k = 0; k < classes.Count; k++)
                    {
                        probabilities[classes[k]] = row.Scores[k];
                    }

                    return new Dictionary<string, object?>(StringComparer.Ordinal)
                    {
                        [LabelKey] = label,
                        [ScoreKey] = probabilities.GetValueOrDefault(label),
                        [ProbabilitiesKey] = probabilities,
                    };
                }

            default:
                return new Dictionary<string, object?>(StringComparer.Ordinal) { [ValueKey] = (double)row.Scores[0] };
        }
    }
}
