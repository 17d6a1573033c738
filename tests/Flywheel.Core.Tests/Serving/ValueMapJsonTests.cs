using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

/// <summary>The fast writer for feature and output maps writes exactly what the serializer writes.</summary>
public sealed class ValueMapJsonTests
{
    private static readonly JsonSerializerOptions Api = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static TheoryData<string> Maps => new(Samples.Keys);

    private static readonly Dictionary<string, IReadOnlyDictionary<string, object?>> Samples = new()
    {
        ["features"] = new Dictionary<string, object?>
        {
            ["amount"] = 123.45, ["hour"] = 9.0, ["is_online"] = false, ["merchant_category"] = "fuel", ["missing"] = null,
        },
        ["binary outputs"] = PredictionOutputs.Describe(
            new ModelSchema("m", ModelTask.Binary, [new("x", FeatureType.Numeric)], new TargetDefinition("y", FeatureType.Boolean)),
            ["false", "true"], new ScoredRow(true, [1.3f], 0.785_398_2f)),
        ["multiclass outputs"] = PredictionOutputs.Describe(
            new ModelSchema("m", ModelTask.Multiclass, [new("x", FeatureType.Numeric)], new TargetDefinition("y", FeatureType.Categorical)),
            ["a", "b", "c"], new ScoredRow("b", [0.1f, 0.7f, 0.2f], null)),
        ["cached outputs"] = new Dictionary<string, object?> { ["value"] = 2.5, [PredictionOutputs.CachedKey] = true },
        ["escaping"] = new Dictionary<string, object?> { ["<script>&\"é"] = "naïve \u2028 <b>&amp;</b> 'quoted' \\ \t", ["emoji 🚀"] = "日本" },
        ["number kinds"] = new Dictionary<string, object?>
        {
            ["float"] = 0.1f, ["int"] = -7, ["long"] = long.MaxValue, ["tiny"] = double.Epsilon, ["huge"] = double.MaxValue, ["negative zero"] = -0.0,
        },
        ["other types"] = new Dictionary<string, object?>
        {
            ["at"] = new DateTimeOffset(2026, 11, 29, 5, 0, 0, TimeSpan.Zero),
            ["list"] = new[] { 1.5, 2.5 },
            ["element"] = JsonDocument.Parse("""{"nested":[1,"two",null]}""").RootElement,
            ["map"] = new Dictionary<string, object?> { ["inner"] = new Dictionary<string, double> { ["p"] = 0.25 } },
            ["enum"] = DayOfWeek.Sunday,
        },
        ["empty"] = new Dictionary<string, object?>(),
        ["other map types"] = new System.Collections.ObjectModel.ReadOnlyDictionary<string, object?>(new Dictionary<string, object?>
        {
            ["sorted numbers"] = new SortedDictionary<string, double> { ["b"] = 0.75, ["a"] = 0.25 },
            ["read-only map"] = new System.Collections.ObjectModel.ReadOnlyDictionary<string, object?>(new Dictionary<string, object?> { ["x"] = 1.0 }),
        }),
    };

    [Theory]
    [MemberData(nameof(Maps))]
    public void The_log_text_is_what_the_serializer_writes(string sample)
    {
        var map = Samples[sample];
        using var json = new ValueMapJsonBuffer();
        Assert.Equal(JsonSerializer.Serialize(map), Encoding.UTF8.GetString(json.Write(map).Span));
    }

    [Fact]
    public void A_reused_buffer_holds_only_the_latest_map()
    {
        using var json = new ValueMapJsonBuffer();
        json.Write(Samples["features"]);
        var second = json.Write(new Dictionary<string, object?> { ["label"] = true, ["score"] = 0.5 });
        Assert.Equal("""{"label":true,"score":0.5}""", Encoding.UTF8.GetString(second.Span));
    }

    [Theory]
    [MemberData(nameof(Maps))]
    public void Through_the_converter_a_response_is_what_the_serializer_writes_with_the_api_options(string sample)
    {
        var response = new Response([Samples[sample], Samples["features"]], 3);
        var withConverter = new JsonSerializerOptions(Api) { Converters = { new ValueMapJsonConverter() } };
        Assert.Equal(JsonSerializer.Serialize(response, Api), JsonSerializer.Serialize(response, withConverter));
    }

    [Fact]
    public void A_non_finite_number_is_refused_as_the_serializer_refuses_it_or_named_when_the_options_allow()
    {
        var map = new Dictionary<string, object?> { ["score"] = double.NaN };
        Assert.Throws<ArgumentException>(() => JsonSerializer.Serialize(map));
        using var json = new ValueMapJsonBuffer();
        Assert.Throws<ArgumentException>(() => json.Write(map));
        Assert.Equal("""{"score":0.5}""", Encoding.UTF8.GetString(json.Write(new Dictionary<string, object?> { ["score"] = 0.5 }).Span));

        var named = new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        var probabilities = new Dictionary<string, object?> { ["p"] = new Dictionary<string, double> { ["a"] = double.PositiveInfinity }, ["q"] = float.NaN };
        var withConverter = new JsonSerializerOptions(named) { Converters = { new ValueMapJsonConverter() } };
        Assert.Equal(JsonSerializer.Serialize(new Response([probabilities], 1), named), JsonSerializer.Serialize(new Response([probabilities], 1), withConverter));
    }

    [Fact]
    public void Reading_gives_the_serializer_s_map_of_json_elements()
    {
        var converter = new JsonSerializerOptions { Converters = { new ValueMapJsonConverter() } };
        var read = JsonSerializer.Deserialize<IReadOnlyDictionary<string, object?>>("""{"a":1.5,"b":"x","c":null}""", converter)!;
        Assert.Equal(1.5, ((JsonElement)read["a"]!).GetDouble());
        Assert.Equal("x", ((JsonElement)read["b"]!).GetString());
        Assert.Null(read["c"]);
    }

    private sealed record Response(IReadOnlyList<IReadOnlyDictionary<string, object?>> Predictions, int ModelVersion);
}
