using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Schema;

public sealed class RowValidatorTests
{
    private static readonly ModelSchema Schema = SchemaRulesTests.CardFraud();

    private static Dictionary<string, string?> Good() => new()
    {
        ["amount"] = "12.5",
        ["merchant_category"] = "grocery",
        ["is_online"] = "true",
        ["email"] = "a@example.com",
        ["is_fraud"] = "0",
        ["event_time"] = "2026-01-02T03:04:05Z",
        ["entity_id"] = "c-17",
        ["event_id"] = "e-1",
    };

    private static RowValidation Validate(Dictionary<string, string?> row, bool requireTarget = false) =>
        RowValidator.Validate(Schema, row, line: 7, requireTarget);

    private static FieldError SingleError(Dictionary<string, string?> row) => Assert.Single(Validate(row).Errors);

    [Fact]
    public void A_good_row_yields_typed_values()
    {
        var result = Validate(Good());

        Assert.True(result.IsValid);
        Assert.Equal(12.5, result.Features["amount"]);
        Assert.Equal("grocery", result.Features["merchant_category"]);
        Assert.Equal(true, result.Features["is_online"]);
        Assert.Equal(false, result.Target);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), result.EventTime);
        Assert.Equal("c-17", result.EntityId);
        Assert.Equal("e-1", result.EventId);
    }

    [Fact]
    public void Errors_carry_the_line_and_the_field()
    {
        var row = Good();
        row["amount"] = "twelve";

        var error = SingleError(row);

        Assert.Equal(new FieldError("amount", "'twelve' is not a number.", 7, "type"), error);
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e400")]
    public void Numbers_must_be_finite(string value)
    {
        var row = Good();
        row["amount"] = value;

        Assert.Contains("finite", SingleError(row).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1e39", false)]
    [InlineData("-3.5e38", false)]
    [InlineData("1e308", false)]
    [InlineData("3.4e38", true)]
    [InlineData("-3.4e38", true)]
    public void Numbers_past_what_a_32_bit_float_holds_are_out_of_range(string value, bool fits)
    {
        var row = Good();
        row["amount"] = value;
        var unbounded = Schema with { Features = [.. Schema.Features.Select(f => f.Name == "amount" ? f with { Min = null, Max = null } : f)] };

        var result = RowValidator.Validate(unbounded, row, 7);

        if (fits)
        {
            Assert.True(result.IsValid, string.Join("; ", result.Errors));
        }
        else
        {
            var error = Assert.Single(result.Errors);
            Assert.Equal(("amount", "range"), (error.Field, error.Code));
            Assert.Contains("32-bit float", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("9999-12-31T23:59:59Z", false)]
    [InlineData("2026-01-03T03:04:06Z", false)]
    [InlineData("2026-01-03T03:04:05Z", true)]
    [InlineData("0001-01-01T00:00:00Z", true)]
    public void An_event_time_past_the_latest_accepted_is_out_of_range_for_rows_and_labels(string time, bool accepted)
    {
        var latest = DateTimeOffset.Parse("2026-01-03T03:04:05Z", System.Globalization.CultureInfo.InvariantCulture);
        var row = Good();
        row["event_time"] = time;
        var label = new Dictionary<string, string?> { ["entity_id"] = "c-17", ["event_time"] = time, ["is_fraud"] = "1" };

        foreach (var result in new[] { RowValidator.Validate(Schema, row, 7, latestTime: latest), RowValidator.ValidateLabel(Schema, label, 7, latest) })
        {
            if (accepted)
            {
                Assert.True(result.IsValid, string.Join("; ", result.Errors));
            }
            else
            {
                var error = Assert.Single(result.Errors);
                Assert.Equal(("event_time", "range", 7L), (error.Field, error.Code, error.Line));
                Assert.Contains("ahead of the platform's clock", error.Message, StringComparison.Ordinal);
                Assert.Null(result.EventTime);
            }
        }

        Assert.True(RowValidator.Validate(Schema, row, 7).IsValid);
    }

    [Fact]
    public void Numbers_use_the_invariant_culture()
    {
        var row = Good();
        row["amount"] = "12,5";

        Assert.Equal("amount", SingleError(row).Field);
    }

    [Theory]
    [InlineData("-0.01", "below the minimum 0")]
    [InlineData("50000.5", "above the maximum 50000")]
    public void Numbers_outside_the_range_are_refused(string value, string message)
    {
        var row = Good();
        row["amount"] = value;

        Assert.Contains(message, SingleError(row).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("50000")]
    public void The_range_is_inclusive(string value)
    {
        var row = Good();
        row["amount"] = value;

        Assert.True(Validate(row).IsValid);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("1", true)]
    [InlineData("false", false)]
    [InlineData("0", false)]
    [InlineData(" False ", false)]
    public void Booleans_accept_words_and_digits(string value, bool expected)
    {
        var row = Good();
        row["is_online"] = value;

        Assert.Equal(expected, Validate(row).Features["is_online"]);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("2")]
    public void Other_boolean_spellings_are_refused(string value)
    {
        var row = Good();
        row["is_online"] = value;

        Assert.Equal("is_online", SingleError(row).Field);
    }

    [Fact]
    public void An_unknown_category_is_refused_with_the_allowed_ones()
    {
        var row = Good();
        row["merchant_category"] = "casino";

        var error = SingleError(row);

        Assert.Equal("'casino' is not a known category (grocery, travel, online).", error.Message);
    }

    [Fact]
    public void A_categorical_feature_without_a_set_accepts_any_value_up_to_the_length_limit()
    {
        var row = Good();
        row["email"] = "anyone@anywhere.example";
        Assert.True(Validate(row).IsValid);

        row["email"] = new string('x', RowValidator.MaxTextLength + 1);
        Assert.Equal("email", SingleError(row).Field);
    }

    [Fact]
    public void A_missing_required_feature_is_refused()
    {
        var row = Good();
        row.Remove("amount");

        Assert.Equal(new FieldError("amount", "is required.", 7, "required"), SingleError(row));
    }

    [Fact]
    public void An_empty_value_counts_as_missing()
    {
        var row = Good();
        row["is_online"] = "";

        Assert.Equal("is_online", SingleError(row).Field);
    }

    [Fact]
    public void A_nullable_feature_may_be_missing()
    {
        var row = Good();
        row.Remove("email");

        var result = Validate(row);

        Assert.True(result.IsValid);
        Assert.Null(result.Features["email"]);
    }

    [Fact]
    public void An_unknown_column_is_refused_so_a_misspelt_header_is_never_ignored()
    {
        var row = Good();
        row["ammount"] = "3";

        Assert.Equal("ammount", SingleError(row).Field);
    }

    [Fact]
    public void The_target_is_optional_unless_the_row_is_for_training()
    {
        var row = Good();
        row.Remove("is_fraud");

        Assert.True(Validate(row).IsValid);
        Assert.Equal("is_fraud", Assert.Single(Validate(row, requireTarget: true).Errors).Field);
    }

    [Fact]
    public void A_bad_target_is_refused()
    {
        var row = Good();
        row["is_fraud"] = "maybe";

        Assert.Equal("is_fraud", SingleError(row).Field);
    }

    [Theory]
    [InlineData("2026-01-02T03:04:05+02:00", "2026-01-02T01:04:05Z")]
    [InlineData("2026-01-02T03:04:05", "2026-01-02T03:04:05Z")]
    public void Event_times_are_normalised_to_utc(string value, string expected)
    {
        var row = Good();
        row["event_time"] = value;

        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), Validate(row).EventTime);
        Assert.Equal(TimeSpan.Zero, Validate(row).EventTime!.Value.Offset);
    }

    [Fact]
    public void A_bad_event_time_is_refused()
    {
        var row = Good();
        row["event_time"] = "yesterday";

        Assert.Equal("event_time", SingleError(row).Field);
    }

    [Fact]
    public void A_model_keyed_by_entity_needs_an_entity_id()
    {
        var row = Good();
        row.Remove("entity_id");

        Assert.Equal("is required: this model is keyed by card_id.", SingleError(row).Message);
    }

    [Fact]
    public void Over_long_ids_are_refused()
    {
        var row = Good();
        row["event_id"] = new string('e', RowValidator.MaxTextLength + 1);

        Assert.Equal("event_id", SingleError(row).Field);
    }

    [Fact]
    public void Every_problem_in_a_row_is_reported()
    {
        var row = Good();
        row["amount"] = "-5";
        row["merchant_category"] = "casino";
        row["is_online"] = "maybe";
        row["extra"] = "x";

        Assert.Equal(["extra", "amount", "merchant_category", "is_online"], Validate(row).Errors.Select(e => e.Field));
    }
}
