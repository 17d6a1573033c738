using System.Globalization;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class PiiRedactionTests
{
    private static readonly ModelSchema Schema = new(
        "card-fraud",
        ModelTask.Binary,
        [
            new FeatureDefinition("amount", FeatureType.Numeric),
            new FeatureDefinition("email", FeatureType.Categorical, Nullable: true, Pii: true),
            new FeatureDefinition("phone_digits", FeatureType.Numeric, Nullable: true, Pii: true),
        ],
        new TargetDefinition("is_fraud", FeatureType.Boolean));

    [Fact]
    public void A_pii_value_is_replaced_by_the_sha256_of_model_feature_and_value_and_the_rest_is_kept()
    {
        var redacted = PiiRedaction.Redact(Schema, new Dictionary<string, object?>
        {
            ["amount"] = 12.5,
            ["email"] = "ann@example.com",
            ["phone_digits"] = 1234.5,
        });

        // printf 'card-fraud\nemail\nann@example.com' | sha256sum
        Assert.Equal("sha256:c53e7765dcf003382a51d4cd96e2a9f5a3ceeee838c7d543072d3b3926472087", redacted["email"]);
        // printf 'card-fraud\nphone_digits\n1234.5' | sha256sum
        Assert.Equal("sha256:b5a6c8972124e316c60f2b634adfb7892ec08f5b7a620173f99c290db9d4268c", redacted["phone_digits"]);
        Assert.Equal(12.5, redacted["amount"]);
        Assert.DoesNotContain(redacted.Values, v => v is string s && s.Contains("example.com", StringComparison.Ordinal));
    }

    [Fact]
    public void The_caller_s_dictionary_is_left_as_it_was()
    {
        var features = new Dictionary<string, object?> { ["amount"] = 1.0, ["email"] = "ann@example.com" };

        PiiRedaction.Redact(Schema, features);

        Assert.Equal("ann@example.com", features["email"]);
    }

    [Fact]
    public void Equal_values_hash_equal_within_a_model_and_differently_across_models()
    {
        var first = PiiRedaction.Redact(Schema, new Dictionary<string, object?> { ["email"] = "ann@example.com" })["email"];
        var again = PiiRedaction.Redact(Schema, new Dictionary<string, object?> { ["email"] = "ann@example.com" })["email"];
        var other = PiiRedaction.Redact(Schema with { Name = "other-model" }, new Dictionary<string, object?> { ["email"] = "ann@example.com" })["email"];

        Assert.Equal(first, again);
        // printf 'other-model\nemail\nann@example.com' | sha256sum
        Assert.Equal("sha256:02fa45f99c833b6c8299a61d510ef0194eb6f59c148220e3f0b7350166927ec3", other);
    }

    [Fact]
    public void Missing_and_null_pii_values_stay_missing_and_null()
    {
        var redacted = PiiRedaction.Redact(Schema, new Dictionary<string, object?> { ["amount"] = 3.0, ["email"] = null });

        Assert.Null(redacted["email"]);
        Assert.False(redacted.ContainsKey("phone_digits"));
    }

    [Fact]
    public void Numbers_hash_the_same_whatever_the_thread_s_culture()
    {
        var previous = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            Assert.Equal("sha256:b5a6c8972124e316c60f2b634adfb7892ec08f5b7a620173f99c290db9d4268c", PiiRedaction.Hash("card-fraud", "phone_digits", 1234.5));
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void A_schema_without_pii_returns_the_features_unchanged()
    {
        var schema = Schema with { Features = [new FeatureDefinition("amount", FeatureType.Numeric)] };
        var features = new Dictionary<string, object?> { ["amount"] = 5.0, ["email"] = "ann@example.com" };

        Assert.Same(features, PiiRedaction.Redact(schema, features));
    }
}
