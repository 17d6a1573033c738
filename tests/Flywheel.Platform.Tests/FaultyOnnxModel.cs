namespace Flywheel.Platform.Tests;

/// <summary>
/// A binary model for <see cref="TrainingData.FraudModel"/>'s features that keeps the serving
/// contract (one input per feature, the three outputs, the metadata) but fails at run time for
/// large amounts, as a model with a bad lookup table would: P(fraud) is read from a two-entry
/// table at index floor(amount / <see cref="Step"/>), and from <c>2 × Step</c> up the index is out
/// of range, so ONNX Runtime refuses the run. Smaller amounts (and the warm-up's zeros) score.
/// Written with <see cref="OnnxBytes"/>.
/// </summary>
internal static class FaultyOnnxModel
{
    private const int Float = OnnxBytes.Float;
    private const int Text = OnnxBytes.Text;
    private const int Bool = OnnxBytes.Bool;

    public const double Step = 300;

    /// <summary>Amounts at or above this make the model fail.</summary>
    public const double FailsFrom = 2 * Step;

    /// <param name="flatOutputs">
    /// Outputs of shape [N] instead of the contract's [N, 1], as a model exported outside Flywheel
    /// might have: ONNX Runtime then refuses outputs bound with the contract's shape.
    /// </param>
    public static byte[] Build(string classesJson, bool flatOutputs = false)
    {
        var graph = new OnnxBytes.Proto()
            .Message(1, OnnxBytes.Node("Div", ["amount", "step"], ["bucket_f"]))
            .Message(1, OnnxBytes.Node("Cast", ["bucket_f"], ["bucket"], new OnnxBytes.Proto().String(1, "to").Int(3, 7).Int(20, 2)));
        if (flatOutputs)
        {
            graph.Message(1, OnnxBytes.Node("Reshape", ["bucket", "flat"], ["bucket_flat"]))
                .Message(5, OnnxBytes.Int64Tensor("flat", [1], [-1]));
        }

        graph
            .Message(1, OnnxBytes.Node("Gather", ["table", flatOutputs ? "bucket_flat" : "bucket"], ["p"], new OnnxBytes.Proto().String(1, "axis").Int(3, 0).Int(20, 2)))
            .Message(1, OnnxBytes.Node("Identity", ["p"], ["Probability.output"]))
            .Message(1, OnnxBytes.Node("Identity", ["p"], ["Score.output"]))
            .Message(1, OnnxBytes.Node("Greater", ["p", "half"], ["PredictedLabel.output"]))
            .String(2, "faulty")
            .Message(5, OnnxBytes.FloatTensor("step", [], [(float)Step]))
            .Message(5, OnnxBytes.FloatTensor("table", [2], [0.2f, 0.8f]))
            .Message(5, OnnxBytes.FloatTensor("half", [], [0.5f]))
            .Message(11, OnnxBytes.Value("amount", Float))
            .Message(11, OnnxBytes.Value("merchant_category", Text))
            .Message(11, OnnxBytes.Value("is_online", Float))
            .Message(11, OnnxBytes.Value("hour", Float))
            .Message(12, OnnxBytes.Value("PredictedLabel.output", Bool, flatOutputs))
            .Message(12, OnnxBytes.Value("Score.output", Float, flatOutputs))
            .Message(12, OnnxBytes.Value("Probability.output", Float, flatOutputs));
        return new OnnxBytes.Proto()
            .Int(1, 8)
            .String(2, "flywheel-tests")
            .Message(7, graph)
            .Message(8, new OnnxBytes.Proto().String(1, "").Int(2, 13))
            .Message(14, new OnnxBytes.Proto().String(1, "flywheel.task").String(2, "binary"))
            .Message(14, new OnnxBytes.Proto().String(1, "flywheel.classes").String(2, classesJson))
            .ToArray();
    }
}
