using System.Runtime.InteropServices;
using System.Text;

namespace Flywheel.Platform.Tests;

/// <summary>
/// A binary model for <see cref="TrainingData.FraudModel"/>'s features that keeps the serving
/// contract (one input per feature, the three outputs, the metadata) but fails at run time for
/// large amounts, as a model with a bad lookup table would: P(fraud) is read from a two-entry
/// table at index floor(amount / <see cref="Step"/>), and from <c>2 × Step</c> up the index is out
/// of range, so ONNX Runtime refuses the run. Smaller amounts (and the warm-up's zeros) score.
/// Written as ONNX protobuf by hand: no ONNX library is needed to build a model this small.
/// </summary>
internal static class FaultyOnnxModel
{
    public const double Step = 300;

    /// <summary>Amounts at or above this make the model fail.</summary>
    public const double FailsFrom = 2 * Step;

    /// <param name="flatOutputs">
    /// Outputs of shape [N] instead of the contract's [N, 1], as a model exported outside Flywheel
    /// might have: ONNX Runtime then refuses outputs bound with the contract's shape.
    /// </param>
    public static byte[] Build(string classesJson, bool flatOutputs = false)
    {
        var graph = new Proto()
            .Message(1, Node("Div", ["amount", "step"], ["bucket_f"]))
            .Message(1, Node("Cast", ["bucket_f"], ["bucket"], new Proto().String(1, "to").Int(3, 7).Int(20, 2)));
        if (flatOutputs)
        {
            graph.Message(1, Node("Reshape", ["bucket", "flat"], ["bucket_flat"]))
                .Message(5, Int64Tensor("flat", [1], [-1]));
        }

        graph
            .Message(1, Node("Gather", ["table", flatOutputs ? "bucket_flat" : "bucket"], ["p"], new Proto().String(1, "axis").Int(3, 0).Int(20, 2)))
            .Message(1, Node("Identity", ["p"], ["Probability.output"]))
            .Message(1, Node("Identity", ["p"], ["Score.output"]))
            .Message(1, Node("Greater", ["p", "half"], ["PredictedLabel.output"]))
            .String(2, "faulty")
            .Message(5, FloatTensor("step", [], [(float)Step]))
            .Message(5, FloatTensor("table", [2], [0.2f, 0.8f]))
            .Message(5, FloatTensor("half", [], [0.5f]))
            .Message(11, Value("amount", Float))
            .Message(11, Value("merchant_category", Text))
            .Message(11, Value("is_online", Float))
            .Message(11, Value("hour", Float))
            .Message(12, Value("PredictedLabel.output", Bool, flatOutputs))
            .Message(12, Value("Score.output", Float, flatOutputs))
            .Message(12, Value("Probability.output", Float, flatOutputs));
        return new Proto()
            .Int(1, 8)
            .String(2, "flywheel-tests")
            .Message(7, graph)
            .Message(8, new Proto().String(1, "").Int(2, 13))
            .Message(14, new Proto().String(1, "flywheel.task").String(2, "binary"))
            .Message(14, new Proto().String(1, "flywheel.classes").String(2, classesJson))
            .ToArray();
    }

    private const int Float = 1;
    private const int Int64 = 7;
    private const int Text = 8;
    private const int Bool = 9;

    private static Proto Node(string op, string[] inputs, string[] outputs, Proto? attribute = null)
    {
        var node = new Proto();
        foreach (var input in inputs)
        {
            node.String(1, input);
        }

        foreach (var output in outputs)
        {
            node.String(2, output);
        }

        node.String(3, op + "_" + outputs[0]).String(4, op);
        return attribute is null ? node : node.Message(5, attribute);
    }

    private static Proto FloatTensor(string name, long[] dims, float[] values) => Tensor(name, dims, Float, values);

    private static Proto Int64Tensor(string name, long[] dims, long[] values) => Tensor(name, dims, Int64, values);

    /// <summary>An initializer with its values as raw little-endian bytes.</summary>
    private static Proto Tensor<T>(string name, long[] dims, int elementType, T[] values)
        where T : unmanaged
    {
        var tensor = new Proto();
        foreach (var dim in dims)
        {
            tensor.Int(1, dim);
        }

        return tensor.Int(2, elementType).String(8, name).Bytes(9, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    /// <summary>A [N, 1] tensor of the element type, or [N] when <paramref name="flat"/>.</summary>
    private static Proto Value(string name, int elementType, bool flat = false)
    {
        var shape = new Proto().Message(1, new Proto().String(2, "N"));
        if (!flat)
        {
            shape.Message(1, new Proto().Int(1, 1));
        }

        return new Proto()
            .String(1, name)
            .Message(2, new Proto().Message(1, new Proto().Int(1, elementType).Message(2, shape)));
    }

    /// <summary>The protobuf wire format: varints (type 0) and length-delimited fields (type 2).</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public Proto Int(int field, long value)
        {
            Varint((ulong)field << 3);
            Varint((ulong)value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public Proto Bytes(int field, byte[] value)
        {
            Varint(((ulong)field << 3) | 2);
            Varint((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        public byte[] ToArray() => _bytes.ToArray();

        private void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _bytes.WriteByte((byte)value);
        }
    }
}
