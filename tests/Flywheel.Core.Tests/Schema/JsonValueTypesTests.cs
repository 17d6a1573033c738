using System.Text.Json;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Schema;

public sealed class JsonValueTypesTests
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Theory]
    [InlineData(FeatureType.Numeric, "12.5")]
    [InlineData(FeatureType.Numeric, "-3")]
    [InlineData(FeatureType.Numeric, "1e300")]
    [InlineData(FeatureType.Boolean, "true")]
    [InlineData(FeatureType.Boolean, "false")]
    [InlineData(FeatureType.Categorical, "\"travel\"")]
    [InlineData(FeatureType.Categorical, "\"\"")]
    [InlineData(FeatureType.Numeric, "null")]
    [InlineData(FeatureType.Boolean, "null")]
    [InlineData(FeatureType.Categorical, "null")]
    public void A_value_of_the_features_json_type_or_null_passes(FeatureType type, string value) =>
        Assert.Null(JsonValueTypes.FeatureProblem(type, Json(value)));

    [Theory]
    [InlineData(FeatureType.Numeric, "\"12.5\"", "must be a JSON number, not the string \"12.5\".")]
    [InlineData(FeatureType.Numeric, "true", "must be a JSON number, not the boolean true.")]
    [InlineData(FeatureType.Numeric, "[1]", "must be a JSON number, not an array.")]
    [InlineData(FeatureType.Boolean, "0", "must be true or false, not the number 0.")]
    [InlineData(FeatureType.Boolean, "\"true\"", "must be true or false, not the string \"true\".")]
    [InlineData(FeatureType.Boolean, "{}", "must be true or false, not an object.")]
    [InlineData(FeatureType.Categorical, "3", "must be a string (a category), not the number 3.")]
    [InlineData(FeatureType.Categorical, "false", "must be a string (a category), not the boolean false.")]
    public void A_value_of_another_json_type_is_named_with_what_was_sent(FeatureType type, string value, string message) =>
        Assert.Equal(message, JsonValueTypes.FeatureProblem(type, Json(value)));

    [Theory]
    [InlineData("\"c-17\"", null)]
    [InlineData("null", null)]
    [InlineData("17", "must be a string, not the number 17.")]
    [InlineData("true", "must be a string, not the boolean true.")]
    [InlineData("[\"c-17\"]", "must be a string, not an array.")]
    public void Reserved_columns_are_strings(string value, string? message) =>
        Assert.Equal(message, JsonValueTypes.TextProblem(Json(value)));
}
