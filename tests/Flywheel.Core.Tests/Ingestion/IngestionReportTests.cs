using Flywheel.Core.Ingestion;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Ingestion;

public sealed class IngestionReportTests
{
    private static RowValidation Valid(double? amount) =>
        new([], new Dictionary<string, object?> { ["amount"] = amount, ["city"] = "x" }, null, null, null, null);

    private static RowValidation Invalid(params FieldError[] errors) =>
        new(errors, new Dictionary<string, object?>(), null, null, null, null);

    [Fact]
    public void Counts_accepted_rejected_and_duplicates()
    {
        var report = new IngestionReport(["amount", "city"]);
        report.Add(Valid(1));
        report.Add(Valid(2));
        report.Add(Valid(3));
        report.Add(Invalid(new FieldError("amount", "is required.", 4, "required")));

        report.CountDuplicates(1);

        Assert.Equal(2, report.Accepted);
        Assert.Equal(1, report.Rejected);
        Assert.Equal(1, report.Duplicates);
    }

    [Fact]
    public void Missing_rates_are_over_the_valid_rows()
    {
        var report = new IngestionReport(["amount", "city"]);
        report.Add(Valid(null));
        report.Add(Valid(1));
        report.Add(Valid(null));
        report.Add(Valid(4));
        report.Add(Invalid(new FieldError("amount", "x", 5, "type")));

        Assert.Equal(0.5, report.MissingRates["amount"]);
        Assert.Equal(0, report.MissingRates["city"]);
    }

    [Fact]
    public void Problems_are_counted_by_field_and_kind()
    {
        var report = new IngestionReport(["amount"]);
        report.Add(Invalid(new FieldError("amount", "a", 1, "range"), new FieldError("city", "b", 1, "category")));
        report.Add(Invalid(new FieldError("amount", "c", 2, "range")));
        report.Add(Invalid(new FieldError("amount", "d", 3, "type")));

        Assert.Equal(2, report.Problems["amount"]["range"]);
        Assert.Equal(1, report.Problems["amount"]["type"]);
        Assert.Equal(1, report.Problems["city"]["category"]);
        Assert.Equal(3, report.Rejected);
    }

    [Fact]
    public void Unknown_column_names_past_the_cap_are_counted_together_and_the_schema_s_features_always_by_name()
    {
        var report = new IngestionReport(["amount"]);
        for (var i = 0; i < IngestionReport.MaxOtherProblemFields + 50; i++)
        {
            report.Add(Invalid(new FieldError($"k{i}", "is not a column.", i + 2, "unknown_column")));
        }

        report.Add(Invalid(new FieldError("amount", "is required.", 1000, "required")));
        report.Add(Invalid(new FieldError("k0", "is not a column.", 1001, "unknown_column")));

        Assert.Equal(IngestionReport.MaxOtherProblemFields + 2, report.Problems.Count);
        Assert.Equal(50, report.Problems[IngestionReport.OtherFields]["unknown_column"]);
        Assert.Equal(2, report.Problems["k0"]["unknown_column"]);
        Assert.Equal(1, report.Problems["amount"]["required"]);
        Assert.False(report.Problems.ContainsKey($"k{IngestionReport.MaxOtherProblemFields}"));
        Assert.Equal(IngestionReport.MaxOtherProblemFields + 52, report.Rejected);
    }

    [Fact]
    public void Errors_are_listed_up_to_the_cap_and_the_rest_counted()
    {
        var report = new IngestionReport(["amount"], maxErrors: 2);
        for (var line = 1; line <= 5; line++)
        {
            report.Add(Invalid(new FieldError("amount", "bad", line, "type")));
        }

        Assert.Equal([1L, 2L], report.Errors.Select(e => e.Line!.Value));
        Assert.Equal(3, report.ErrorsNotListed);
    }

    [Fact]
    public void An_empty_ingestion_has_zero_missing_rates() =>
        Assert.Equal(0, new IngestionReport(["amount"]).MissingRates["amount"]);
}
