using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class TensorValidatorTests
{
    private static readonly ModelSchema Schema = new(
        "fraud",
        ModelTask.Binary,
        [
            new("amount", FeatureType.Numeric, Min: 0),
            new("merchant_category", FeatureType.Categorical, Categories: ["grocery", "travel"]),
            new("is_online", FeatureType.Boolean),
        ],
        new("is_fraud", FeatureType.Boolean));

    private const string Amount = """{ "name": "amount", "datatype": "FP32", "shape": [2, 1], "data": [1.5, 20] }""";
    private const string Category = """{ "name": "merchant_category", "datatype": "BYTES", "shape": [2, 1], "data": ["travel", "grocery"] }""";
    private const string Online = """{ "name": "is_online", "datatype": "FP32", "shape": [2, 1], "data": [1, 0] }""";

    private static ValidatedRequest Validate(string json, int max = 10) =>
        TensorValidator.Validate(Schema, ServingSettings.Default, JsonDocument.Parse(json).RootElement, max);

    [Fact]
    public void Named_tensors_become_rows()
    {
        var result = Validate($$"""{ "id": "r1", "inputs": [ {{Amount}}, {{Category}}, {{Online}} ] }""");

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.Equal(2, result.Rows.Count);
        Assert.Equal((20.0, "grocery", false), ((double)result.Rows[1]["amount"]!, (string)result.Rows[1]["merchant_category"]!, (bool)result.Rows[1]["is_online"]!));
        Assert.Equal(true, result.Rows[0]["is_online"]);
    }

    [Theory]
    [InlineData("""{ "name": "amount", "datatype": "BYTES", "shape": [2, 1], "data": ["1", "2"] }""", "inputs[0].datatype")]
    [InlineData("""{ "name": "amount", "datatype": "FP32", "shape": [3, 1], "data": [1, 2, 3] }""", "inputs[1].shape")] // the first tensor sets N; the others disagree
    [InlineData("""{ "name": "amount", "datatype": "FP32", "shape": [2, 2], "data": [1, 2] }""", "inputs[0].shape")]
    [InlineData("""{ "name": "amount", "datatype": "FP32", "shape": [2, 1], "data": [1] }""", "inputs[0].data")]
    [InlineData("""{ "name": "amount", "datatype": "FP32", "shape": [2, 1], "data": [1, "NaN"] }""", "inputs[0].data[1]")]
    [InlineData("""{ "name": "amount", "datatype": "FP32", "shape": [2, 1], "data": [1, -2] }""", "inputs[0].data[1]")]
    [InlineData("""{ "name": "amount", "datatype": "FP32", "shape": [2, 1] }""", "inputs[0].data")]
    [InlineData("""{ "name": "amout", "datatype": "FP32", "shape": [2, 1], "data": [1, 2] }""", "inputs[0].name")]
    public void A_bad_tensor_is_refused_at_its_field(string amount, string field)
    {
        var result = Validate($$"""{ "inputs": [ {{amount}}, {{Category}}, {{Online}} ] }""");

        Assert.False(result.IsValid);
        Assert.Contains(field, result.Errors.Select(e => e.Field));
    }

    [Theory]
    [InlineData("""{ "inputs": [] }""", "inputs")]
    [InlineData("""{ "instances": [] }""", "instances")]
    [InlineData("""{ "id": 5, "inputs": [] }""", "id")]
    public void A_body_without_tensors_is_refused(string body, string field) =>
        Assert.Contains(field, Validate(body).Errors.Select(e => e.Field));

    [Fact]
    public void A_missing_required_feature_is_named()
    {
        var error = Assert.Single(Validate($$"""{ "inputs": [ {{Amount}}, {{Category}} ] }""").Errors);

        Assert.Equal("inputs", error.Field);
        Assert.Contains("is_online", error.Message);
    }

    [Fact]
    public void A_category_the_model_does_not_know_is_refused_by_default()
    {
        var category = """{ "name": "merchant_category", "datatype": "BYTES", "shape": [2, 1], "data": ["travel", "casino"] }""";

        Assert.Equal("inputs[1].data[1]", Assert.Single(Validate($$"""{ "inputs": [ {{Amount}}, {{category}}, {{Online}} ] }""").Errors).Field);
    }

    [Fact]
    public void More_rows_than_allowed_are_refused() =>
        Assert.Contains("inputs[0].shape", Validate($$"""{ "inputs": [ {{Amount}}, {{Category}}, {{Online}} ] }""", max: 1).Errors.Select(e => e.Field));
}
