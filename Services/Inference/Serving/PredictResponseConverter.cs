using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Serving;

namespace Flywheel.Inference.Serving;

/// <summary>
/// Writes a KServe V1 answer in one pass, as the serializer would: property names by the
/// options' naming policy, the predictions through <see cref="ValueMapJson"/>. The serializer's own
/// path keeps a stack of frames for the nested lists and allocated it on every response (the
/// largest single allocation left per prediction).
/// </summary>
public sealed class PredictResponseConverter : JsonConverter<PredictResponse>
{
    private Names? _names;

    public override PredictResponse Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("A predict response is written by the worker, not read.");

    public override void Write(Utf8JsonWriter writer, PredictResponse value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        var names = NamesFor(options);
        writer.WriteStartObject();
        writer.WriteStartArray(names.Predictions);
        foreach (var prediction in value.Predictions)
        {
            ValueMapJson.WriteMap(writer, prediction, options);
        }

        writer.WriteEndArray();
        writer.WriteNumber(names.ModelVersion, value.ModelVersion);
        writer.WriteStartArray(names.PredictionIds);
        foreach (var id in value.PredictionIds)
        {
            writer.WriteStringValue(id);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    // The worker has one set of options; another set (a test's) gets its names computed once too.
    private Names NamesFor(JsonSerializerOptions options)
    {
        var names = Volatile.Read(ref _names);
        if (names is null || !ReferenceEquals(names.Options, options))
        {
            names = new Names(options);
            Volatile.Write(ref _names, names);
        }

        return names;
    }

    private sealed class Names(JsonSerializerOptions options)
    {
        public JsonSerializerOptions Options { get; } = options;

        public JsonEncodedText Predictions { get; } = Name(options, nameof(PredictResponse.Predictions));

        public JsonEncodedText ModelVersion { get; } = Name(options, nameof(PredictResponse.ModelVersion));

        public JsonEncodedText PredictionIds { get; } = Name(options, nameof(PredictResponse.PredictionIds));

        private static JsonEncodedText Name(JsonSerializerOptions options, string property) =>
            JsonEncodedText.Encode(options.PropertyNamingPolicy?.ConvertName(property) ?? property, options.Encoder);
    }
}
