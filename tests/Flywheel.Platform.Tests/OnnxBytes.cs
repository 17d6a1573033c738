using System.Runtime.InteropServices;
using System.Text;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Writes small ONNX models as protobuf by hand (<see cref="FaultyOnnxModel"/>,
/// <see cref="BucketLookupOnnxModel"/>): no ONNX library is needed for models this small.
/// </summary>
internal static class OnnxBytes
{
    public const int Float = 1;
    public const int Int64 = 7;
    public const int Text = 8;
    public const int Bool = 9;

    public static Proto Node(string op, string[] inputs, string[] outputs, Proto? attribute = null) => Node(op, "", inputs, outputs, attribute is null ? [] : [attribute]);

    /// <summary>A node of an operator in <paramref name="domain"/> ("" for ONNX's own, "ai.onnx.ml" for the ML operators).</summary>
    public static Proto Node(string op, string domain, string[] inputs, string[] outputs, Proto[] attributes)
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
        foreach (var attribute in attributes)
        {
            node.Message(5, attribute);
        }

        return domain.Length == 0 ? node : node.String(7, domain);
    }

    /// <summary>A float attribute (ONNX attribute type FLOAT).</summary>
    public static Proto FloatAttribute(string name, float value) => new Proto().String(1, name).Fixed32(2, value).Int(20, 1);

    /// <summary>A list of floats (FLOATS), packed.</summary>
    public static Proto FloatsAttribute(string name, float[] values) =>
        new Proto().String(1, name).Bytes(7, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()).Int(20, 6);

    /// <summary>A list of strings (STRINGS).</summary>
    public static Proto StringsAttribute(string name, string[] values)
    {
        var attribute = new Proto().String(1, name);
        foreach (var value in values)
        {
            attribute.String(9, value);
        }

        return attribute.Int(20, 8);
    }

    public static Proto FloatTensor(string name, long[] dims, float[] values) => Tensor(name, dims, Float, values);

    public static Proto Int64Tensor(string name, long[] dims, long[] values) => Tensor(name, dims, Int64, values);

    /// <summary>An initializer with its values as raw little-endian bytes.</summary>
    public static Proto Tensor<T>(string name, long[] dims, int elementType, T[] values)
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
    public static Proto Value(string name, int elementType, bool flat = false)
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

    /// <summary>The protobuf wire format: varints (type 0), length-delimited fields (type 2) and 32-bit ones (type 5).</summary>
    public sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public Proto Int(int field, long value)
        {
            Varint((ulong)field << 3);
            Varint((ulong)value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Fixed32(int field, float value)
        {
            Varint(((ulong)field << 3) | 5);
            Span<byte> bytes = stackalloc byte[4];
            BitConverter.TryWriteBytes(bytes, value);
            _bytes.Write(bytes);
            return this;
        }

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
