using System.Text.Json;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class BinaryOutcomeTests
{
    private const string Outputs = """{"label": "fraud", "score": 0.8, "probabilities": {"fraud": 0.8, "ok": 0.2}}""";

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    [InlineData("1", true)]
    [InlineData("0", false)]
    [InlineData("\"true\"", true)]
    [InlineData("\"False\"", false)]
    [InlineData("\"fraud\"", true)]
    [InlineData("\"ok\"", false)]
    public void A_label_is_positive_when_it_names_the_class_whose_probability_is_the_score(string label, bool positive)
    {
        Assert.Equal(positive, BinaryOutcome.Positive(Json(label), Json(Outputs), 0.8));
    }

    [Theory]
    [InlineData("2")]
    [InlineData("0.5")]
    [InlineData("\"chargeback\"")]
    [InlineData("null")]
    [InlineData("[1]")]
    [InlineData("{\"fraud\": true}")]
    public void A_label_that_says_neither_class_is_null(string label)
    {
        Assert.Null(BinaryOutcome.Positive(Json(label), Json(Outputs), 0.8));
    }

    [Fact]
    public void A_class_name_is_only_read_against_two_class_probabilities()
    {
        var three = Json("""{"score": 0.5, "probabilities": {"a": 0.5, "b": 0.3, "c": 0.2}}""");
        Assert.False(BinaryOutcome.Positive(Json("\"a\""), three, 0.5));
        Assert.Null(BinaryOutcome.Positive(Json("\"a\""), Json("""{"score": 0.5}"""), 0.5));
    }

    [Theory]
    [InlineData("""{"score": 0.25}""", 0.25)]
    [InlineData("""{"score": 0}""", 0.0)]
    [InlineData("""{"score": 1}""", 1.0)]
    public void The_score_is_the_logged_probability(string outputs, double score)
    {
        Assert.Equal(score, BinaryOutcome.Score(Json(outputs)));
    }

    [Theory]
    [InlineData("""{"label": true}""")]
    [InlineData("""{"score": "0.3"}""")]
    [InlineData("""{"score": 1.5}""")]
    [InlineData("""{"score": -0.1}""")]
    [InlineData("""{"score": null}""")]
    [InlineData("[0.3]")]
    public void Outputs_without_a_probability_as_score_have_none(string outputs)
    {
        Assert.Null(BinaryOutcome.Score(Json(outputs)));
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();
}
