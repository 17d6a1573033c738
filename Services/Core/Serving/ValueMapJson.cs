using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flywheel.Core.Serving;

/// <summary>
/// Writes the maps the data plane answers and logs on every prediction (a request's features, a
/// prediction's outputs: names to numbers, booleans, text and nested maps of class probabilities)
/// straight to a <see cref="Utf8JsonWriter"/>, without the serializer's per-value type resolution
/// (its polymorphic <c>object</c> handling was the largest part of writing a response). Anything
/// else is left to <see cref="JsonSerializer"/>, so the JSON is what the serializer would write.
/// </summary>
public sealed class ValueMapJsonConverter : JsonConverter<IReadOnlyDictionary<string, object?>>
{
    public override IReadOnlyDictionary<string, object?>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize<Dictionary<string, object?>>(ref reader, options);

    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?> value, JsonSerializerOptions options) =>
        ValueMapJson.WriteMap(writer, value, options);
}

public static class ValueMapJson
{
    public static void WriteMap(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?> map, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(map);
        writer.WriteStartObject();
        // The maps are dictionaries: enumerated as such, no enumerator is boxed per map.
        if (map is Dictionary<string, object?> dictionary)
        {
            foreach (var (name, value) in dictionary)
            {
                writer.WritePropertyName(name);
                WriteValue(writer, value, options);
            }
        }
        else
        {
            foreach (var (name, value) in map)
            {
                writer.WritePropertyName(name);
                WriteValue(writer, value, options);
            }
        }

        writer.WriteEndObject();
    }

    public static void WriteValue(Utf8JsonWriter writer, object? value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case double number when double.IsFinite(number):
                writer.WriteNumberValue(number);
                break;
            case float number when float.IsFinite(number):
                writer.WriteNumberValue(number);
                break;
            case int number:
                writer.WriteNumberValue(number);
                break;
            case long number:
                writer.WriteNumberValue(number);
                break;
            case Dictionary<string, double> numbers:
                // Class probabilities; any other map of numbers is left to the serializer below.
                writer.WriteStartObject();
                foreach (var (name, number) in numbers)
                {
                    writer.WritePropertyName(name);
                    WriteNumber(writer, number, options);
                }

                writer.WriteEndObject();
                break;
            case IReadOnlyDictionary<string, object?> map:
                WriteMap(writer, map, options);
                break;
            default:
                // Non-finite numbers (refused or named as the options say), dates, arrays, JSON elements.
                JsonSerializer.Serialize(writer, value, value.GetType(), options);
                break;
        }
    }

    private static void WriteNumber(Utf8JsonWriter writer, double number, JsonSerializerOptions options)
    {
        if (double.IsFinite(number))
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            JsonSerializer.Serialize(writer, number, options);
        }
    }
}

/// <summary>
/// Maps as UTF-8 JSON for jsonb columns, written as <see cref="ValueMapJson.WriteMap"/> does into
/// one buffer and one writer that every map reuses: the prediction log writes two maps per record,
/// and each goes to the database as bytes, never through a string. Each result is valid until the
/// next <see cref="Write"/>; one instance serves one thread.
/// </summary>
public sealed class ValueMapJsonBuffer : IDisposable
{
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;

    public ValueMapJsonBuffer() => _writer = new Utf8JsonWriter(_buffer);

    public ReadOnlyMemory<byte> Write(IReadOnlyDictionary<string, object?> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        // A map that failed halfway (a non-finite number) leaves the writer mid-object: start afresh.
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        ValueMapJson.WriteMap(_writer, map, JsonSerializerOptions.Default);
        _writer.Flush();
        return _buffer.WrittenMemory;
    }

    public void Dispose() => _writer.Dispose();
}
