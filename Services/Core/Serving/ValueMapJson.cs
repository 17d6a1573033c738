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
    /// <summary>
    /// The map as UTF-8 JSON (for a jsonb column), written as <see cref="WriteMap"/> does into
    /// <paramref name="buffer"/>, which is cleared first: a writer that logs many maps reuses one
    /// buffer, and the bytes go to the database as they are, never through a string.
    /// </summary>
    public static ReadOnlyMemory<byte> Serialize(IReadOnlyDictionary<string, object?> map, ArrayBufferWriter<byte> buffer)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(buffer);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteMap(writer, map, JsonSerializerOptions.Default);
        }

        return buffer.WrittenMemory;
    }

    public static void WriteMap(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?> map, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(map);
        writer.WriteStartObject();
        foreach (var (name, value) in map)
        {
            writer.WritePropertyName(name);
            WriteValue(writer, value, options);
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
            case IReadOnlyDictionary<string, double> numbers:
                writer.WriteStartObject();
                foreach (var (name, number) in numbers)
                {
                    writer.WritePropertyName(name);
                    WriteValue(writer, number, options);
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
}
