using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Training;

/// <summary>
/// The interface of every exported model, for whoever serves it (the public names live in
/// <see cref="OnnxModelContract"/> in Core, so the workers that serve it need no ML.NET).
/// <para>Inputs: exactly one per feature, named as the feature (<see cref="InputName"/>), shape
/// [N, 1] with N the batch size. Numeric and boolean features are <c>float</c> (true 1, false 0,
/// NaN when missing); categorical features are <c>string</c> (empty when missing; a category unseen
/// in training scores like a missing one, never an error). A PII categorical feature's input is the
/// bucket of its value (<see cref="FeatureValues.PiiBucket"/>), as it was in training, so the model
/// holds no PII value. No label input.</para>
/// <para>Outputs: regression <see cref="ScoreOutput"/> float [N, 1], the predicted value. Binary
/// <see cref="PredictedLabelOutput"/> bool [N, 1] (true for the positive class),
/// <see cref="ScoreOutput"/> float [N, 1] (the raw margin) and <see cref="ProbabilityOutput"/> float
/// [N, 1] (P(positive)). Multiclass <see cref="PredictedLabelOutput"/> string [N, 1] (the class name)
/// and <see cref="ScoreOutput"/> float [N, classes] (class probabilities, in the order of
/// <see cref="ClassesMetadata"/>).</para>
/// <para>Custom metadata (ONNX <c>metadata_props</c>): <see cref="TaskMetadata"/> is binary,
/// multiclass or regression; <see cref="ClassesMetadata"/> is a JSON array of class names in output
/// order, negative then positive for binary models, empty for regression; <see cref="PiiBucketsMetadata"/>,
/// only where the schema has PII categorical features, is a JSON array of their names.</para>
/// </summary>
public static class OnnxContract
{
    public const string ScoreOutput = OnnxModelContract.ScoreOutput;
    public const string ProbabilityOutput = OnnxModelContract.ProbabilityOutput;
    public const string PredictedLabelOutput = OnnxModelContract.PredictedLabelOutput;

    public const string TaskMetadata = OnnxModelContract.TaskMetadata;
    public const string ClassesMetadata = OnnxModelContract.ClassesMetadata;
    public const string PiiBucketsMetadata = OnnxModelContract.PiiBucketsMetadata;

    internal const string ScoreColumn = "Score";
    internal const string ProbabilityColumn = "Probability";
    internal const string PredictedLabelColumn = "PredictedLabel";

    /// <summary>The input that carries a feature's values.</summary>
    public static string InputName(string feature) => OnnxModelContract.InputName(feature);

    /// <summary>The ML.NET columns a task's model exports and the ONNX outputs they become.</summary>
    internal static (string Column, string Output)[] Outputs(ModelTask task) => task switch
    {
        ModelTask.Binary => [(PredictedLabelColumn, PredictedLabelOutput), (ScoreColumn, ScoreOutput), (ProbabilityColumn, ProbabilityOutput)],
        ModelTask.Multiclass => [(PredictedLabelColumn, PredictedLabelOutput), (ScoreColumn, ScoreOutput)],
        _ => [(ScoreColumn, ScoreOutput)],
    };
}
