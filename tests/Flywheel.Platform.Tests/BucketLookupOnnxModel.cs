namespace Flywheel.Platform.Tests;

/// <summary>
/// A binary model for <see cref="TrainingData.FraudModel"/>'s features whose P(fraud) is
/// <see cref="Hit"/> when its <c>merchant_category</c> input is exactly <c>key</c> and
/// <see cref="Miss"/> otherwise (an ONNX <c>LabelEncoder</c>), so an answer says what string the
/// model was fed. With <c>bucketedFeatures</c> it carries <c>flywheel.pii_buckets</c> metadata, as
/// a model trained on a PII feature's buckets does. Written with <see cref="OnnxBytes"/>.
/// </summary>
internal static class BucketLookupOnnxModel
{
    public const float Hit = 0.9f;
    public const float Miss = 0.1f;

    public static byte[] Build(string key, string? bucketedFeatures)
    {
        var graph = new OnnxBytes.Proto()
            .Message(1, OnnxBytes.Node("LabelEncoder", "ai.onnx.ml", ["merchant_category"], ["p"],
            [
                OnnxBytes.StringsAttribute("keys_strings", [key]),
                OnnxBytes.FloatsAttribute("values_floats", [Hit]),
                OnnxBytes.FloatAttribute("default_float", Miss),
            ]))
            .Message(1, OnnxBytes.Node("Identity", ["p"], ["Probability.output"]))
            .Message(1, OnnxBytes.Node("Identity", ["p"], ["Score.output"]))
            .Message(1, OnnxBytes.Node("Greater", ["p", "half"], ["PredictedLabel.output"]))
            .String(2, "bucket-lookup")
            .Message(5, OnnxBytes.FloatTensor("half", [], [0.5f]))
            .Message(11, OnnxBytes.Value("amount", OnnxBytes.Float))
            .Message(11, OnnxBytes.Value("merchant_category", OnnxBytes.Text))
            .Message(11, OnnxBytes.Value("is_online", OnnxBytes.Float))
            .Message(11, OnnxBytes.Value("hour", OnnxBytes.Float))
            .Message(12, OnnxBytes.Value("PredictedLabel.output", OnnxBytes.Bool))
            .Message(12, OnnxBytes.Value("Score.output", OnnxBytes.Float))
            .Message(12, OnnxBytes.Value("Probability.output", OnnxBytes.Float));
        var model = new OnnxBytes.Proto()
            .Int(1, 8)
            .String(2, "flywheel-tests")
            .Message(7, graph)
            .Message(8, new OnnxBytes.Proto().String(1, "").Int(2, 13))
            .Message(8, new OnnxBytes.Proto().String(1, "ai.onnx.ml").Int(2, 2))
            .Message(14, new OnnxBytes.Proto().String(1, "flywheel.task").String(2, "binary"))
            .Message(14, new OnnxBytes.Proto().String(1, "flywheel.classes").String(2, """["legit","fraud"]"""));
        if (bucketedFeatures is not null)
        {
            model.Message(14, new OnnxBytes.Proto().String(1, "flywheel.pii_buckets").String(2, bucketedFeatures));
        }

        return model.ToArray();
    }
}
