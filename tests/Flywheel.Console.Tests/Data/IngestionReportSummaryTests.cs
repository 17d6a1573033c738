using System.Text.Json;
using Flywheel.Console.Data;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Tests.Data;

public sealed class IngestionReportSummaryTests
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    [Fact]
    public void Each_field_gets_its_missing_rate_and_its_rejections_by_kind()
    {
        var fields = IngestionReportSummary.Fields(Json("""
            {
              "missing_rates": { "amount": 0, "merchant_category": 0.125 },
              "problems": {
                "amount": { "range": 2, "type": 1, "required": 3 },
                "merchant_category": { "category": 4, "length": 2, "format": 1 }
              }
            }
            """));

        Assert.Equal(2, fields.Count);
        var amount = fields[0];
        Assert.Equal(("amount", 0.0), (amount.Field, amount.MissingRate!.Value));
        Assert.Equal((3L, 1L, 2L, 0L, 0L), (amount.Required, amount.WrongType, amount.OutOfRange, amount.UnknownCategory, amount.Other));
        Assert.Equal(6, amount.Rejections);
        var merchant = fields[1];
        Assert.Equal(0.125, merchant.MissingRate);
        Assert.Equal(4, merchant.UnknownCategory);
        Assert.Equal(3, merchant.Other);
        Assert.Equal("format: 1, length: 2", merchant.DescribeOther());
        Assert.Equal("0", fields[0].DescribeOther());
    }

    [Fact]
    public void Fields_keep_the_report_order_and_problem_only_fields_follow_by_name()
    {
        var fields = IngestionReportSummary.Fields(Json("""
            {
              "missing_rates": { "zeta": 0, "alpha": 0.5 },
              "problems": { "line": { "format": 1 }, "event_time": { "time": 2 }, "alpha": { "type": 1 } }
            }
            """));

        Assert.Equal(["zeta", "alpha", "event_time", "line"], fields.Select(f => f.Field));
        Assert.Null(fields[2].MissingRate);
        Assert.Equal(2, fields[2].Other);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{ "missing_rates": [], "problems": "none" }""")]
    public void A_missing_or_unexpected_report_has_no_fields(string json) => Assert.Empty(IngestionReportSummary.Fields(Json(json)));

    [Fact]
    public void No_report_has_no_fields() => Assert.Empty(IngestionReportSummary.Fields(null));

    [Fact]
    public void Values_that_are_not_numbers_are_skipped()
    {
        var field = Assert.Single(IngestionReportSummary.Fields(Json("""
            { "missing_rates": { "amount": "n/a", "b": 0.5 }, "problems": { "b": { "range": "x", "type": 2 } } }
            """)));

        Assert.Equal("b", field.Field);
        Assert.Equal(2, field.WrongType);
        Assert.Equal(0, field.OutOfRange);
    }

    [Fact]
    public void Quarantined_rows_list_each_problem_on_its_own_line_in_line_order()
    {
        QuarantineEntryView[] rows =
        [
            new(12, [new("amount", "is below the minimum 0.", "range"), new("email", "is required.", "required")]),
            new(3, [new("event_time", "is not a time.", "time")]),
        ];

        Assert.Equal(
            [
                new QuarantineLine(3, "event_time", "is not a time."),
                new QuarantineLine(12, "amount", "is below the minimum 0."),
                new QuarantineLine(12, "email", "is required."),
            ],
            IngestionReportSummary.Lines(rows));
    }

    [Theory]
    [InlineData("0190a6b2-1111-7000-8000-000000000002")]
    [InlineData("  0190a6b2-1111-7000-8000-000000000002 ")]
    [InlineData("\"0190a6b2-1111-7000-8000-000000000002\"")]
    [InlineData("'0190A6B2-1111-7000-8000-000000000002'")]
    public void A_pasted_ingestion_id_is_forgiven_spaces_quotes_and_case(string text) =>
        Assert.Equal(Guid.Parse("0190a6b2-1111-7000-8000-000000000002"), IngestionReportSummary.ParseId(text));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-an-id")]
    [InlineData("0190a6b2-1111-7000-8000-00000000000")]
    public void Text_that_is_not_an_id_is_refused(string? text) => Assert.Null(IngestionReportSummary.ParseId(text));
}
