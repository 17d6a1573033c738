using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Inference;
using Flywheel.Inference.Serving;

namespace Flywheel.Platform.Tests;

/// <summary>The worker's one-pass writer for KServe V1 answers writes exactly what the serializer writes.</summary>
public sealed class PredictResponseConverterTests
{
    private static readonly ModelSchema Binary = new("m", ModelTask.Binary, [new("x", FeatureType.Numeric)], new TargetDefinition("y", FeatureType.Categorical));
    private static readonly ModelSchema Multiclass = new("m", ModelTask.Multiclass, [new("x", FeatureType.Numeric)], new TargetDefinition("y", FeatureType.Categorical));

    public static TheoryData<string> Options => new("worker", "default");

    [Theory]
    [MemberData(nameof(Options))]
    public void A_response_is_what_the_serializer_writes(string which)
    {
        var options = which == "worker"
            ? new JsonSerializerOptions
            {
                PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
                Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower), new ValueMapJsonConverter() },
            }
            : new JsonSerializerOptions();
        var withConverter = new JsonSerializerOptions(options) { Converters = { new PredictResponseConverter() } };
        var cached = new Dictionary<string, object?>(PredictionOutputs.Describe(Binary, ["no", "yes \"quoted\" é"], new ScoredRow(true, [0.4f], 0.6f)))
        {
            [PredictionOutputs.CachedKey] = true,
        };
        var responses = new[]
        {
            new PredictResponse([PredictionOutputs.Describe(Binary, ["no", "yes"], new ScoredRow(false, [-1.2f], 0.231f))], 3, [Guid.CreateVersion7()]),
            new PredictResponse(
                [cached, PredictionOutputs.Describe(Multiclass, ["a", "b", "c"], new ScoredRow("c", [0.1f, 0.2f, 0.7f], null))],
                12,
                [Guid.CreateVersion7(), Guid.Empty]),
            new PredictResponse([], 1, []),
        };

        foreach (var response in responses)
        {
            Assert.Equal(JsonSerializer.Serialize(response, options), JsonSerializer.Serialize(response, withConverter));
        }

        // The names follow each options' policy, whichever options the converter saw first.
        var snake = new JsonSerializerOptions(withConverter) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        var camel = new JsonSerializerOptions(withConverter) { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
        Assert.StartsWith("""{"predictions":[""", JsonSerializer.Serialize(responses[2], snake), StringComparison.Ordinal);
        Assert.Contains("\"modelVersion\":1", JsonSerializer.Serialize(responses[2], camel), StringComparison.Ordinal);
        Assert.Contains("\"model_version\":1", JsonSerializer.Serialize(responses[2], snake), StringComparison.Ordinal);
    }
}
