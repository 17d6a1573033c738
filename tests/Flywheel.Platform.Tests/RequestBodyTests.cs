using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;

namespace Flywheel.Platform.Tests;

/// <summary>How a JSON body that does not fit its endpoint is explained: by field, in the API's terms.</summary>
public sealed class RequestBodyTests
{
    public enum Shape { RoundThing, Square }

    public sealed record Part(string? Name, double? Size, Shape? Shape);

    public sealed record Order(string? Name, Part? Main, IReadOnlyList<Part>? Parts, Dictionary<string, JsonElement>? Extras, bool Rush = false);

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    private static Dictionary<string, string[]> Unknown(string json) =>
        UnknownJsonFields.Find(JsonDocument.Parse(json).RootElement, Options.GetTypeInfo(typeof(Order)), Options);

    [Fact]
    public void A_body_of_known_fields_has_nothing_unknown_whatever_the_case_and_whatever_a_dictionary_holds()
    {
        Assert.Empty(Unknown("""{ "name": "a", "RUSH": true, "main": { "size": 1, "shape": "square" }, "parts": [ { "name": "p" } ], "extras": { "anything": { "at": "all" } } }"""));
    }

    [Fact]
    public void Unknown_fields_are_found_at_every_depth_by_their_path_with_the_fields_that_exist()
    {
        var unknown = Unknown("""{ "nmae": "a", "main": { "colour": "red" }, "parts": [ { "name": "p" }, { "weight": 2 } ] }""");

        Assert.Equal(["main.colour", "nmae", "parts[1].weight"], unknown.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("is not a field here; the fields are: name, main, parts, extras, rush.", unknown["nmae"][0]);
        Assert.Equal("is not a field here; the fields are: name, size, shape.", unknown["parts[1].weight"][0]);
    }

    [Fact]
    public void Values_of_the_wrong_kind_are_left_to_binding_to_explain()
    {
        Assert.Empty(Unknown("""{ "main": "not an object", "parts": { "not": "an array" } }"""));
    }

    private static (string Field, string Message) Describe<T>(string json)
    {
        try
        {
            JsonSerializer.Deserialize<T>(json, Options);
        }
        catch (JsonException exception)
        {
            return BadRequestBodyHandler.Describe(new BadHttpRequestException("Failed to read parameter.", exception));
        }

        throw new InvalidOperationException("the body was read");
    }

    [Theory]
    [InlineData("""{ "main": { "size": "big" } }""", "main.size", "must be a number.")]
    [InlineData("""{ "rush": "yes" }""", "rush", "must be true or false.")]
    [InlineData("""{ "main": { "shape": "triangle" } }""", "main.shape", "must be one of: round_thing, square.")]
    [InlineData("""{ "parts": 3 }""", "parts", "must be an array.")]
    [InlineData("""{ "main": 3 }""", "main", "must be a JSON object of the documented fields.")]
    [InlineData("""[1, 2]""", "body", "must be a JSON object.")]
    [InlineData("""{ "name": """, "name", "The JSON ends before it is complete.")]
    public void A_body_the_serializer_refuses_is_described_by_field_without_type_names(string json, string field, string message)
    {
        Assert.Equal((field, message), Describe<Order>(json));
    }

    [Fact]
    public void A_missing_body_and_a_query_value_of_the_wrong_type_are_described_by_their_name()
    {
        Assert.Equal(("body", "is required: send a JSON object with Content-Type: application/json."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Implicit body inferred for parameter \"request\" but no body was provided. Did you mean to use a Service instead?")));
        Assert.Equal(("limit", "'abc' is not a whole number."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Failed to bind parameter \"int limit\" from \"abc\".")));
        Assert.Equal(("id", "'nope' is not a UUID."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Failed to bind parameter \"Guid id\" from \"nope\".")));
        Assert.Equal(("verify", "'maybe' is not true or false."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Failed to bind parameter \"bool verify\" from \"maybe\".")));
        Assert.Equal(("from", "'soon' is not an ISO-8601 time."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Failed to bind parameter \"DateTimeOffset? from\" from \"soon\".")));
        Assert.Equal(("limit", "is required."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Required parameter \"int limit\" was not provided from query string.")));
        Assert.Equal(("form", "did not come from this site's page, or the page has expired: reload it and send the form again."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Invalid anti-forgery token found when reading parameter \"SignInForm form\" from the request body as form.")));
        Assert.Equal(("shape", "'x' is not a valid value here."),
            BadRequestBodyHandler.Describe(new BadHttpRequestException("Failed to bind parameter \"Shape shape\" from \"x\".")));
    }
}
