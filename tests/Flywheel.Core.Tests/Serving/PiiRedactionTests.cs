using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class PiiRedactionTests
{
    private const string Key = "flywheel-test-pii-key-0123456789abcdef";

    private static readonly PiiRedaction Pii = new(Key);

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
    public void A_pii_value_is_replaced_by_the_hmac_of_model_feature_and_value_under_the_key_and_the_rest_is_kept()
    {
        var redacted = Pii.Redact(Schema, new Dictionary<string, object?>
        {
            ["amount"] = 12.5,
            ["email"] = "ann@example.com",
            ["phone_digits"] = 1234.5,
        });

        // printf 'card-fraud\nemail\nann@example.com' | openssl dgst -sha256 -hmac 'flywheel-test-pii-key-0123456789abcdef'
        Assert.Equal("hmac-sha256:fc71d02fc7864ade8855d2805e040f9a9770aad134668fc73f7d6efaf955f82c", redacted["email"]);
        Assert.Equal("hmac-sha256:0638d49edc5c10a2310549e876987c21b246551796ff0954655bebdf1a587859", redacted["phone_digits"]);
        Assert.Equal(12.5, redacted["amount"]);
        Assert.DoesNotContain(redacted.Values, v => v is string s && s.Contains("example.com", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_the_key_hashing_candidates_does_not_find_the_value()
    {
        var pseudonym = (string)Pii.Redact(Schema, new Dictionary<string, object?> { ["email"] = "ann@example.com" })["email"]!;

        // What an unkeyed hash of the same text would be, and the same text under another key.
        var unkeyed = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("card-fraud\nemail\nann@example.com")));
        Assert.DoesNotContain(unkeyed, pseudonym, StringComparison.Ordinal);
        Assert.Equal("hmac-sha256:386daad8832a3b8ae0415b10278bba601e6c00a50f580c6f10239283166a1128",
            new PiiRedaction("another-pii-key-0123456789abcdef01234567").Hash("card-fraud", "email", "ann@example.com"));
        Assert.NotEqual(pseudonym, new PiiRedaction("another-pii-key-0123456789abcdef01234567").Hash("card-fraud", "email", "ann@example.com"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("0123456789abcdef0123456789abcde")]
    public void A_key_shorter_than_32_characters_is_refused(string key) =>
        Assert.Throws<ArgumentException>(() => new PiiRedaction(key));

    [Fact]
    public void The_caller_s_dictionary_is_left_as_it_was()
    {
        var features = new Dictionary<string, object?> { ["amount"] = 1.0, ["email"] = "ann@example.com" };

        Pii.Redact(Schema, features);

        Assert.Equal("ann@example.com", features["email"]);
    }

    [Fact]
    public void Equal_values_hash_equal_within_a_model_and_differently_across_models()
    {
        var first = Pii.Redact(Schema, new Dictionary<string, object?> { ["email"] = "ann@example.com" })["email"];
        var again = new PiiRedaction(Key).Redact(Schema, new Dictionary<string, object?> { ["email"] = "ann@example.com" })["email"];
        var other = Pii.Redact(Schema with { Name = "other-model" }, new Dictionary<string, object?> { ["email"] = "ann@example.com" })["email"];

        Assert.Equal(first, again);
        Assert.Equal("hmac-sha256:919b879c6cf8acca5ffdc328c5467b9f7f30526b8689eb5891a11c0c1435b26f", other);
    }

    [Fact]
    public void Missing_and_null_pii_values_stay_missing_and_null()
    {
        var redacted = Pii.Redact(Schema, new Dictionary<string, object?> { ["amount"] = 3.0, ["email"] = null });

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
            Assert.Equal("hmac-sha256:0638d49edc5c10a2310549e876987c21b246551796ff0954655bebdf1a587859", Pii.Hash("card-fraud", "phone_digits", 1234.5));
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

        Assert.Same(features, Pii.Redact(schema, features));
    }
}
