using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class InstanceValidatorTests
{
    private static readonly ModelSchema Fraud = new(
        "fraud",
        ModelTask.Binary,
        [
            new("amount", FeatureType.Numeric, Min: 0, Max: 10_000),
            new("merchant_category", FeatureType.Categorical, Categories: ["grocery", "travel"]),
            new("is_online", FeatureType.Boolean),
            new("hour", FeatureType.Numeric, Nullable: true, Min: 0, Max: 23),
        ],
        new("is_fraud", FeatureType.Boolean),
        EntityKey: "card_id");

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    private static ValidatedRequest Validate(string json, ServingSettings? settings = null, int max = 10,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>? online = null) =>
        InstanceValidator.Validate(Fraud, settings ?? ServingSettings.Default, Json(json), max, online);

    private static Dictionary<string, string> Errors(ValidatedRequest result) =>
        result.Errors.ToDictionary(e => e.Field, e => e.Code ?? "");

    [Fact]
    public void A_valid_instance_becomes_a_typed_row_with_missing_nullable_features_null()
    {
        var result = Validate("""{ "instances": [ { "amount": 12.5, "merchant_category": "travel", "is_online": true } ] }""");

        Assert.True(result.IsValid);
        var row = Assert.Single(result.Rows);
        Assert.Equal(12.5, row["amount"]);
        Assert.Equal("travel", row["merchant_category"]);
        Assert.Equal(true, row["is_online"]);
        Assert.Null(row["hour"]);
        Assert.Null(Assert.Single(result.EntityIds));
    }

    [Theory]
    [InlineData("""{ "amount": "12", "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "type")]
    [InlineData("""{ "amount": "NaN", "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "type")]
    [InlineData("""{ "amount": "Infinity", "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "type")]
    [InlineData("""{ "amount": 1e400, "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "type")]
    [InlineData("""{ "amount": -1, "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "range")]
    [InlineData("""{ "amount": 10001, "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "range")]
    [InlineData("""{ "amount": null, "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "required")]
    [InlineData("""{ "merchant_category": "travel", "is_online": true }""", "instances[0].amount", "required")]
    [InlineData("""{ "amount": 1, "merchant_category": "casino", "is_online": true }""", "instances[0].merchant_category", "category")]
    [InlineData("""{ "amount": 1, "merchant_category": 3, "is_online": true }""", "instances[0].merchant_category", "type")]
    [InlineData("""{ "amount": 1, "merchant_category": "travel", "is_online": "yes" }""", "instances[0].is_online", "type")]
    [InlineData("""{ "amount": 1, "merchant_category": "travel", "is_online": 1 }""", "instances[0].is_online", "type")]
    [InlineData("""{ "amount": 1, "merchant_category": "travel", "is_online": true, "hour": 24 }""", "instances[0].hour", "range")]
    [InlineData("""{ "amount": 1, "merchant_category": "travel", "is_online": true, "colour": "red" }""", "instances[0].colour", "unknown_column")]
    [InlineData("""{ "amount": 1, "merchant_category": "travel", "is_online": true, "is_fraud": true }""", "instances[0].is_fraud", "unknown_column")]
    [InlineData("""{ "amount": 1, "merchant_category": "travel", "is_online": true, "entity_id": 7 }""", "instances[0].entity_id", "type")]
    public void A_bad_value_is_refused_with_its_field_and_kind(string instance, string field, string code)
    {
        var result = Validate($$"""{ "instances": [ {{instance}} ] }""");

        Assert.False(result.IsValid);
        Assert.Equal(code, Errors(result)[field]);
        Assert.Empty(result.Rows);
    }

    [Theory]
    [InlineData("""[]""", "body")]
    [InlineData("""{ }""", "instances")]
    [InlineData("""{ "instances": {} }""", "instances")]
    [InlineData("""{ "instances": [] }""", "instances")]
    [InlineData("""{ "instances": [ 5 ] }""", "instances[0]")]
    [InlineData("""{ "instances": [ { "amount": 1, "merchant_category": "travel", "is_online": true } ], "extra": 1 }""", "extra")]
    public void A_body_of_the_wrong_shape_is_refused_at_its_field(string body, string field)
    {
        Assert.Contains(field, Errors(Validate(body)).Keys);
    }

    [Theory]
    [InlineData("1e39")]
    [InlineData("-1e39")]
    [InlineData("1.7e308")]
    public void A_number_past_what_a_32_bit_float_holds_is_refused_as_out_of_range(string amount)
    {
        var unbounded = Fraud with { Features = [.. Fraud.Features.Select(f => f.Name == "amount" ? f with { Min = null, Max = null } : f)] };
        var result = InstanceValidator.Validate(unbounded, ServingSettings.Default,
            Json($$"""{ "instances": [ { "amount": {{amount}}, "merchant_category": "travel", "is_online": true } ] }"""), 10);

        var error = Assert.Single(result.Errors);
        Assert.Equal(("instances[0].amount", "range"), (error.Field, error.Code));
        Assert.Contains("32-bit float", error.Message, StringComparison.Ordinal);
        Assert.True(InstanceValidator.Validate(unbounded, ServingSettings.Default,
            Json("""{ "instances": [ { "amount": 3.4e38, "merchant_category": "travel", "is_online": true } ] }"""), 10).IsValid);
    }

    [Fact]
    public void More_instances_than_allowed_are_refused()
    {
        var instance = """{ "amount": 1, "merchant_category": "travel", "is_online": true }""";
        var result = Validate($$"""{ "instances": [ {{string.Join(",", Enumerable.Repeat(instance, 3))}} ] }""", max: 2);

        Assert.Equal("length", Errors(result)["instances"]);
    }

    [Fact]
    public void Every_bad_instance_is_reported_by_its_index()
    {
        var result = Validate("""
            { "instances": [ { "amount": 1, "merchant_category": "travel", "is_online": true },
                             { "amount": -3, "merchant_category": "travel", "is_online": true },
                             { "amount": 1, "merchant_category": "travel", "is_online": false, "hour": -1 } ] }
            """);

        Assert.Equal(["instances[1].amount", "instances[2].hour"], result.Errors.Select(e => e.Field).Order().ToArray());
    }

    [Fact]
    public void An_unknown_category_is_served_as_unseen_when_the_model_allows_it()
    {
        var result = Validate("""{ "instances": [ { "amount": 1, "merchant_category": "casino", "is_online": true } ] }""",
            ServingSettings.Default with { UnknownCategories = UnknownCategoryPolicy.Allow });

        Assert.True(result.IsValid);
        Assert.Equal("casino", result.Rows[0]["merchant_category"]);
    }

    [Fact]
    public void Features_an_instance_leaves_out_come_from_its_entity_in_the_online_store_and_its_own_values_win()
    {
        var body = Json("""{ "instances": [ { "entity_id": "card-7", "amount": 99 } ] }""");
        Assert.Equal(["card-7"], InstanceValidator.EntitiesToLookUp(Fraud, body, 10));
        var online = new Dictionary<string, IReadOnlyDictionary<string, JsonElement>>
        {
            ["card-7"] = new Dictionary<string, JsonElement>
            {
                ["amount"] = Json("5"), ["merchant_category"] = Json("\"grocery\""), ["is_online"] = Json("false"), ["hour"] = Json("null"),
            },
        };

        var result = InstanceValidator.Validate(Fraud, ServingSettings.Default, body, 10, online);

        Assert.True(result.IsValid);
        Assert.Equal(99.0, result.Rows[0]["amount"]);
        Assert.Equal("grocery", result.Rows[0]["merchant_category"]);
        Assert.Equal(false, result.Rows[0]["is_online"]);
        Assert.Equal("card-7", result.EntityIds[0]);
    }

    [Fact]
    public void An_unknown_entity_with_missing_features_is_refused_naming_the_entity()
    {
        var result = Validate("""{ "instances": [ { "entity_id": "card-404" } ] }""",
            online: new Dictionary<string, IReadOnlyDictionary<string, JsonElement>>());

        var error = Assert.Single(result.Errors);
        Assert.Equal("instances[0].entity_id", error.Field);
        Assert.Contains("card-404", error.Message);
    }

    [Fact]
    public void An_instance_that_gives_every_feature_needs_no_lookup()
    {
        var body = Json("""{ "instances": [ { "entity_id": "c", "amount": 1, "merchant_category": "travel", "is_online": true, "hour": 3 } ] }""");

        Assert.Empty(InstanceValidator.EntitiesToLookUp(Fraud, body, 10));
        Assert.True(InstanceValidator.Validate(Fraud, ServingSettings.Default, body, 10).IsValid);
    }

    [Fact]
    public void A_request_over_the_instance_limit_looks_up_no_entity_and_is_refused_for_its_size()
    {
        var instances = string.Join(", ", Enumerable.Range(0, 11).Select(i => $$"""{ "entity_id": "card-{{i}}" }"""));
        var body = Json($$"""{ "instances": [ {{instances}} ] }""");

        Assert.Empty(InstanceValidator.EntitiesToLookUp(Fraud, body, 10));
        Assert.Equal(11, InstanceValidator.EntitiesToLookUp(Fraud, body, 11).Count);
        var error = Assert.Single(InstanceValidator.Validate(Fraud, ServingSettings.Default, body, 10).Errors);
        Assert.Equal(("instances", "length"), (error.Field, error.Code));
    }

    [Fact]
    public void Unknown_properties_and_a_bad_entity_id_are_reported_in_the_order_the_instance_gives_them_before_its_features()
    {
        var result = Validate("""
            { "instances": [ { "colour": "red", "amount": -1, "entity_id": "", "merchant_category": "travel", "is_online": true, "size": 3 } ] }
            """);

        Assert.Equal(
            ["instances[0].colour", "instances[0].entity_id", "instances[0].size", "instances[0].amount"],
            result.Errors.Select(e => e.Field).ToArray());
        Assert.Equal("is not a feature of this model.", result.Errors[0].Message);
        Assert.Equal("must be a non-empty string.", result.Errors[1].Message);
        Assert.Equal("-1 is below the minimum 0.", result.Errors[3].Message);
    }

    [Fact]
    public void An_instance_of_every_feature_and_an_entity_id_keeps_the_entity_id()
    {
        var result = Validate("""{ "instances": [ { "hour": 3, "is_online": false, "entity_id": "card-1", "merchant_category": "grocery", "amount": 0 } ] }""");

        Assert.True(result.IsValid);
        Assert.Equal("card-1", Assert.Single(result.EntityIds));
        Assert.Equal(new Dictionary<string, object?> { ["amount"] = 0.0, ["merchant_category"] = "grocery", ["is_online"] = false, ["hour"] = 3.0 }, result.Rows[0]);
    }

    [Fact]
    public void A_feature_given_twice_is_read_from_its_last_value_as_the_json_reader_does()
    {
        var result = Validate("""{ "instances": [ { "amount": 5, "amount": 7, "merchant_category": "travel", "is_online": true } ] }""");

        Assert.True(result.IsValid);
        Assert.Equal(7.0, result.Rows[0]["amount"]);
    }

    [Fact]
    public void An_entity_id_given_twice_is_checked_each_time()
    {
        var result = Validate("""{ "instances": [ { "entity_id": 1, "entity_id": "card-2", "amount": 1, "merchant_category": "travel", "is_online": true, "hour": 2 } ] }""");

        var error = Assert.Single(result.Errors);
        Assert.Equal(("instances[0].entity_id", "type"), (error.Field, error.Code));
    }

    [Fact]
    public void A_long_category_list_is_checked_as_a_set()
    {
        var categories = Enumerable.Range(0, 5_000).Select(i => $"merchant-{i}").ToArray();
        var schema = Fraud with
        {
            Features = [.. Fraud.Features.Select(f => f.Name == "merchant_category" ? f with { Categories = categories } : f)],
        };

        var known = InstanceValidator.Validate(schema, ServingSettings.Default,
            Json("""{ "instances": [ { "amount": 1, "merchant_category": "merchant-4999", "is_online": true } ] }"""), 10);
        var unknown = InstanceValidator.Validate(schema, ServingSettings.Default,
            Json("""{ "instances": [ { "amount": 1, "merchant_category": "merchant-5000", "is_online": true } ] }"""), 10);

        Assert.True(known.IsValid);
        var error = Assert.Single(unknown.Errors);
        Assert.Equal("category", error.Code);
        Assert.Equal("'merchant-5000' is not a known category (merchant-0, merchant-1, merchant-2, merchant-3, merchant-4, merchant-5, merchant-6, merchant-7, merchant-8, merchant-9, … (5000 in all)).", error.Message);
    }

    [Fact]
    public void Validating_the_same_schema_again_gives_the_same_answer()
    {
        const string body = """{ "instances": [ { "amount": 1, "merchant_category": "casino", "is_online": true } ] }""";

        Assert.Equal(Errors(Validate(body)), Errors(Validate(body)));
        Assert.True(Validate(body, ServingSettings.Default with { UnknownCategories = UnknownCategoryPolicy.Allow }).IsValid);
    }

    [Fact]
    public void Every_property_besides_the_instances_is_named_in_order_and_repeated_instances_are_not_one()
    {
        var result = Validate("""
            { "parameters": {}, "instances": [ { "amount": 1 } ], "id": "x", "instances": [ { "amount": 1, "merchant_category": "travel", "is_online": true } ] }
            """);

        Assert.Equal(["parameters", "id"], result.Errors.Select(e => e.Field).ToArray());
        Assert.All(result.Errors, e => Assert.Equal("unknown_column", e.Code));
    }

    [Fact]
    public void Booleans_are_read_into_one_shared_box_each()
    {
        var first = Validate("""{ "instances": [ { "amount": 1, "merchant_category": "travel", "is_online": true } ] }""").Rows[0]["is_online"];
        var second = Validate("""{ "instances": [ { "amount": 2, "merchant_category": "travel", "is_online": true } ] }""").Rows[0]["is_online"];

        Assert.Equal(true, first);
        Assert.Same(first, second);
        Assert.Same(FeatureValues.Box(false), FeatureValues.Box(false));
        Assert.Equal(false, FeatureValues.Box(false));
    }
}
