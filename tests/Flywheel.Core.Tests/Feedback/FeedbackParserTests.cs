using System.Text.Json;
using Flywheel.Core.Feedback;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Feedback;

public sealed class FeedbackParserTests
{
    private static readonly ModelSchema Fraud = new("fraud", ModelTask.Binary,
        [new FeatureDefinition("amount", FeatureType.Numeric)], new TargetDefinition("is_fraud", FeatureType.Boolean));

    private static readonly ModelSchema Price = new("price", ModelTask.Regression,
        [new FeatureDefinition("rooms", FeatureType.Numeric)], new TargetDefinition("price", FeatureType.Numeric));

    private static readonly ModelSchema Segment = new("segment", ModelTask.Multiclass,
        [new FeatureDefinition("amount", FeatureType.Numeric)], new TargetDefinition("segment", FeatureType.Categorical));

    private static readonly Guid Id = Guid.Parse("0194d3b2-6f1e-7a55-9c1e-2f0b5e4d3c21");

    private static FeedbackBatch Parse(ModelSchema schema, string json, int max = FeedbackParser.MaxItems)
    {
        using var document = JsonDocument.Parse(json);
        return FeedbackParser.Parse(schema, document.RootElement, max);
    }

    private static FieldError SingleError(ModelSchema schema, string json)
    {
        var batch = Parse(schema, json);
        Assert.False(batch.IsValid);
        Assert.Empty(batch.Items);
        return Assert.Single(batch.Errors);
    }

    [Fact]
    public void One_object_by_prediction_id_yields_one_typed_item()
    {
        var batch = Parse(Fraud, $$"""{ "prediction_id": "{{Id}}", "label": true }""");

        var item = Assert.Single(batch.Items);
        Assert.Equal(new FeedbackItem(1, Id, null, null, true), item);
    }

    [Fact]
    public void An_array_mixes_prediction_ids_and_entity_times_and_keeps_positions()
    {
        var batch = Parse(Fraud, $$"""
            [ { "prediction_id": "{{Id}}", "label": "0" },
              { "entity_id": "card-7", "event_time": "2026-03-01T10:00:00+02:00", "label": 1 } ]
            """);

        Assert.True(batch.IsValid);
        Assert.Equal(new FeedbackItem(1, Id, null, null, false), batch.Items[0]);
        Assert.Equal(new FeedbackItem(2, null, "card-7", new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), true), batch.Items[1]);
        Assert.Equal(TimeSpan.Zero, batch.Items[1].EventTime!.Value.Offset);
    }

    [Fact]
    public void Labels_take_the_targets_type()
    {
        Assert.Equal(412_000.5, Assert.Single(Parse(Price, $$"""{ "prediction_id": "{{Id}}", "label": 412000.5 }""").Items).Label);
        Assert.Equal(99.0, Assert.Single(Parse(Price, $$"""{ "prediction_id": "{{Id}}", "label": "99" }""").Items).Label);
        Assert.Equal("gold", Assert.Single(Parse(Segment, $$"""{ "prediction_id": "{{Id}}", "label": "gold" }""").Items).Label);
        Assert.Equal("3", Assert.Single(Parse(Segment, $$"""{ "prediction_id": "{{Id}}", "label": 3 }""").Items).Label);
    }

    [Theory]
    [InlineData("\"maybe\"", "type")]
    [InlineData("2", "type")]
    [InlineData("{ \"value\": true }", "type")]
    [InlineData("[true]", "type")]
    [InlineData("\"\"", "required")]
    public void A_label_that_is_not_the_targets_type_is_refused_under_label(string label, string code)
    {
        var error = SingleError(Fraud, $$"""[ { "prediction_id": "{{Id}}", "label": {{label}} } ]""");

        Assert.Equal(("label", 1L, code), (error.Field, error.Line, error.Code));
    }

    [Fact]
    public void A_numeric_label_must_be_a_finite_number()
    {
        var error = SingleError(Price, $$"""{ "prediction_id": "{{Id}}", "label": "NaN" }""");

        Assert.Equal(("label", "type"), (error.Field, error.Code));
    }

    [Theory]
    [InlineData("""{ "prediction_id": "0194d3b2-6f1e-7a55-9c1e-2f0b5e4d3c21" }""", "label", "required")]
    [InlineData("""{ "prediction_id": "0194d3b2-6f1e-7a55-9c1e-2f0b5e4d3c21", "label": null }""", "label", "required")]
    [InlineData("""{ "label": true }""", "prediction_id", "required")]
    [InlineData("""{ "prediction_id": "not-a-uuid", "label": true }""", "prediction_id", "format")]
    [InlineData("""{ "prediction_id": 42, "label": true }""", "prediction_id", "format")]
    [InlineData("""{ "prediction_id": "0194d3b2-6f1e-7a55-9c1e-2f0b5e4d3c21", "entity_id": "c-1", "event_time": "2026-01-01T00:00:00Z", "label": true }""", "prediction_id", "format")]
    [InlineData("""{ "entity_id": "c-1", "label": true }""", "event_time", "required")]
    [InlineData("""{ "event_time": "2026-01-01T00:00:00Z", "label": true }""", "entity_id", "required")]
    [InlineData("""{ "entity_id": "c-1", "event_time": "yesterday", "label": true }""", "event_time", "time")]
    [InlineData("""{ "entity_id": "c-1", "event_time": 1767225600, "label": true }""", "event_time", "time")]
    [InlineData("""{ "entity_id": "", "event_time": "2026-01-01T00:00:00Z", "label": true }""", "entity_id", "type")]
    [InlineData("""{ "entity_id": 17, "event_time": "2026-01-01T00:00:00Z", "label": true }""", "entity_id", "type")]
    [InlineData("""{ "prediction_id": "0194d3b2-6f1e-7a55-9c1e-2f0b5e4d3c21", "label": true, "score": 0.4 }""", "score", "unknown_column")]
    [InlineData("""[ 17 ]""", "body", "format")]
    public void Each_kind_of_bad_item_names_its_field_and_line(string item, string field, string code)
    {
        var error = SingleError(Fraud, item);

        Assert.Equal((field, 1L, code), (error.Field, error.Line, error.Code));
    }

    [Fact]
    public void An_entity_id_longer_than_the_text_limit_is_refused()
    {
        var error = SingleError(Fraud, $$"""{ "entity_id": "{{new string('x', RowValidator.MaxTextLength + 1)}}", "event_time": "2026-01-01T00:00:00Z", "label": true }""");

        Assert.Equal(("entity_id", "length"), (error.Field, error.Code));
    }

    [Fact]
    public void One_bad_item_makes_the_whole_batch_invalid_and_every_error_keeps_its_position()
    {
        var batch = Parse(Fraud, $$"""
            [ { "prediction_id": "{{Id}}", "label": true },
              { "prediction_id": "nope", "label": true },
              { "prediction_id": "{{Id}}", "label": true },
              { "prediction_id": "{{Id}}" } ]
            """);

        Assert.False(batch.IsValid);
        Assert.Empty(batch.Items);
        Assert.Equal([(2L, "prediction_id"), (4L, "label")], batch.Errors.Select(e => (e.Line!.Value, e.Field)));
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"label\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void A_body_that_is_not_an_object_or_a_non_empty_array_is_refused_as_a_whole(string body)
    {
        var error = SingleError(Fraud, body);

        Assert.Equal(("body", (long?)null, "format"), (error.Field, error.Line, error.Code));
    }

    [Fact]
    public void More_items_than_the_limit_are_refused_with_the_count()
    {
        var items = string.Join(",", Enumerable.Repeat($$"""{ "prediction_id": "{{Id}}", "label": true }""", 4));

        var refused = Parse(Fraud, $"[{items}]", max: 3);

        var error = Assert.Single(refused.Errors);

        Assert.Equal("body", error.Field);
        Assert.Contains("this one has 4", error.Message, StringComparison.Ordinal);
        Assert.True(Parse(Fraud, $"[{items}]", max: 4).IsValid);
    }
}
