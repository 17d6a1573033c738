using System.Text.Json;

namespace Flywheel.Core.Serving;

/// <summary>
/// The interface of every exported model, shared by the trainer that writes it and the workers
/// that serve it (so serving never needs ML.NET).
/// <para>Inputs: exactly one per feature, named as the feature (<see cref="InputName"/>), shape
/// [N, 1]. Numeric and boolean features are <c>float</c> (true 1, false 0, NaN when missing);
/// categorical features are <c>string</c> (empty when missing; an unseen category scores like a
/// missing one). A PII categorical feature's input is its value's bucket
/// (<see cref="FeatureValues.PiiBucket"/>), never the value.</para>
/// <para>Outputs: regression <see cref="ScoreOutput"/> float [N, 1]. Binary
/// <see cref="PredictedLabelOutput"/> bool [N, 1], <see cref="ScoreOutput"/> float [N, 1] (raw
/// margin) and <see cref="ProbabilityOutput"/> float [N, 1] (P(positive)). Multiclass
/// <see cref="PredictedLabelOutput"/> string [N, 1] and <see cref="ScoreOutput"/> float
/// [N, classes] (probabilities in the order of <see cref="ClassesMetadata"/>).</para>
/// <para>Metadata: <see cref="TaskMetadata"/> (binary, multiclass, regression) and
/// <see cref="ClassesMetadata"/> (JSON array of class names in output order, negative then positive
/// for binary models, empty for regression); <see cref="PiiBucketsMetadata"/> (JSON array of the
/// features whose inputs are buckets), only where there are any.</para>
/// </summary>
public static class OnnxModelContract
{
    public const string ScoreOutput = "Score.output";
    public const string ProbabilityOutput = "Probability.output";
    public const string PredictedLabelOutput = "PredictedLabel.output";

    public const string TaskMetadata = "flywheel.task";
    public const string ClassesMetadata = "flywheel.classes";
    public const string PiiBucketsMetadata = "flywheel.pii_buckets";

    /// <summary>The input that carries a feature's values.</summary>
    public static string InputName(string feature) => feature;

    /// <summary>
    /// The features a model takes as buckets, from its <see cref="PiiBucketsMetadata"/>: none for a
    /// model without it (every model exported before PII buckets, whose PII inputs are the values).
    /// </summary>
    public static IReadOnlySet<string> BucketedFeatures(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(PiiBucketsMetadata, out var json))
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        try
        {
            return JsonSerializer.Deserialize<string[]>(json)?.ToHashSet(StringComparer.Ordinal)
                ?? throw new InvalidDataException($"The model's '{PiiBucketsMetadata}' metadata is null.");
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"The model's '{PiiBucketsMetadata}' metadata is not a JSON array of feature names.", error);
        }
    }
}
