using System.Text;

namespace Flywheel.Training;

/// <summary>
/// Final touches to the converter's ONNX, made on the protobuf wire format (field numbers from
/// onnx.proto) because the converter's own proto classes are internal. Drops the graph's
/// intermediate <c>value_info</c>: optional, and one of ML.NET's is wrong (a one-hot declared [N, k]
/// that is really [N, 1, k]), which makes every ONNX Runtime session log a shape warning. Keeps only
/// the graph outputs in <paramref name="outputs"/> (the converter adds a placeholder
/// <c>mlnet.Score.unusedOutput</c> to multiclass models). Appends <c>metadata_props</c> entries.
/// Field order is kept, so equal inputs give equal bytes.
/// </summary>
internal static class OnnxRewriter
{
    private const int ModelGraph = 7;
    private const int ModelMetadataProps = 14;
    private const int GraphOutput = 12;
    private const int GraphValueInfo = 13;
    private const int ValueInfoName = 1;
    private const int EntryKey = 1;
    private const int EntryValue = 2;
    private const int LengthDelimited = 2;

    public static byte[] Rewrite(byte[] model, IReadOnlySet<string> outputs, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        using var result = new MemoryStream(model.Length);
        foreach (var field in Fields(model))
        {
            if (field.Number == ModelGraph && field.WireType == LengthDelimited)
            {
                WriteBytes(result, ModelGraph, Graph(field.Payload, outputs));
            }
            else
            {
                result.Write(field.Raw.Span);
            }
        }

        foreach (var (key, value) in metadata)
        {
            using var entry = new MemoryStream();
            WriteBytes(entry, EntryKey, Encoding.UTF8.GetBytes(key));
            WriteBytes(entry, EntryValue, Encoding.UTF8.GetBytes(value));
            WriteBytes(result, ModelMetadataProps, entry.ToArray());
        }

        return result.ToArray();
    }

    private static byte[] Graph(ReadOnlyMemory<byte> graph, IReadOnlySet<string> outputs)
    {
        using var result = new MemoryStream(graph.Length);
        foreach (var field in Fields(graph))
        {
            var drop = field.Number == GraphValueInfo ||
                (field.Number == GraphOutput && !outputs.Contains(Name(field.Payload)));
            if (!drop)
            {
                result.Write(field.Raw.Span);
            }
        }

        return result.ToArray();
    }

    private static string Name(ReadOnlyMemory<byte> valueInfo) =>
        Fields(valueInfo).Where(f => f.Number == ValueInfoName).Select(f => Encoding.UTF8.GetString(f.Payload.Span)).FirstOrDefault() ?? "";

    private readonly record struct Field(int Number, int WireType, ReadOnlyMemory<byte> Raw, ReadOnlyMemory<byte> Payload);

    private static IEnumerable<Field> Fields(ReadOnlyMemory<byte> message)
    {
        var position = 0;
        while (position < message.Length)
        {
            var start = position;
            var tag = ReadVarint(message.Span, ref position);
            var wireType = (int)(tag & 7);
            var payloadStart = position;
            switch (wireType)
            {
                case 0:
                    ReadVarint(message.Span, ref position);
                    break;
                case 1:
                    position += 8;
                    break;
                case LengthDelimited:
                    var length = (int)ReadVarint(message.Span, ref position);
                    payloadStart = position;
                    position += length;
                    break;
                case 5:
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unexpected protobuf wire type {wireType} in the exported ONNX model.");
            }

            if (position > message.Length)
            {
                throw new InvalidDataException("The exported ONNX model is truncated.");
            }

            yield return new Field((int)(tag >> 3), wireType, message[start..position], message[payloadStart..position]);
        }
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> buffer, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = buffer[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("A protobuf varint in the exported ONNX model is too long.");
    }

    private static void WriteBytes(Stream stream, int number, byte[] payload)
    {
        WriteVarint(stream, ((ulong)number << 3) | LengthDelimited);
        WriteVarint(stream, (ulong)payload.Length);
        stream.Write(payload);
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        stream.WriteByte((byte)value);
    }
}
