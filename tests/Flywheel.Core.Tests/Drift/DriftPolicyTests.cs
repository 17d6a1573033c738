using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Drift;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Drift;

public sealed class DriftPolicyTests
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    [Fact]
    public void The_defaults_are_evidentlys_and_valid()
    {
        var policy = DriftPolicy.Default;

        Assert.Equal(
            (1000L, 0.05, 0.05, 0.1, 0.1, 0.2, 0.5, 0.1, 0.05),
            (policy.LargeSample, policy.KsPValue, policy.ChiSquaredPValue, policy.WassersteinNormed, policy.JensenShannon, policy.Psi,
                policy.DatasetDriftShare, policy.MissingRateIncrease, policy.OutOfRangeRate));
        Assert.Null(policy.FeatureTests);
        Assert.Empty(policy.Validate());
        Assert.Empty(policy.Validate(DriftData.Schema));
    }

    [Theory]
    [InlineData("large_sample", "must be between 10 and 100000000; 0 is not.")]
    [InlineData("ks_p_value", "must be greater than 0 and at most 0.5; 0 is not.")]
    [InlineData("chi_squared_p_value", "must be greater than 0 and at most 0.5; 0.9 is not.")]
    [InlineData("wasserstein_normed", "must be greater than 0 and at most 100; -0.1 is not.")]
    [InlineData("jensen_shannon", "must be greater than 0 and at most 1; 1.5 is not.")]
    [InlineData("psi", "must be a finite number.")]
    [InlineData("dataset_drift_share", "must be greater than 0 and at most 1; 0 is not.")]
    [InlineData("missing_rate_increase", "must be greater than 0 and at most 1; 2 is not.")]
    [InlineData("out_of_range_rate", "must be greater than 0 and at most 1; 0 is not.")]
    public void Each_bad_threshold_is_an_error_on_its_field(string field, string message)
    {
        var policy = field switch
        {
            "large_sample" => DriftPolicy.Default with { LargeSample = 0 },
            "ks_p_value" => DriftPolicy.Default with { KsPValue = 0 },
            "chi_squared_p_value" => DriftPolicy.Default with { ChiSquaredPValue = 0.9 },
            "wasserstein_normed" => DriftPolicy.Default with { WassersteinNormed = -0.1 },
            "jensen_shannon" => DriftPolicy.Default with { JensenShannon = 1.5 },
            "psi" => DriftPolicy.Default with { Psi = double.NaN },
            "dataset_drift_share" => DriftPolicy.Default with { DatasetDriftShare = 0 },
            "missing_rate_increase" => DriftPolicy.Default with { MissingRateIncrease = 2 },
            _ => DriftPolicy.Default with { OutOfRangeRate = 0 },
        };

        var errors = policy.Validate();

        Assert.Equal([field], errors.Keys);
        Assert.Equal([message], errors[field]);
    }

    [Fact]
    public void Overrides_must_name_a_feature_with_a_test_that_fits_it()
    {
        var policy = DriftPolicy.Default with
        {
            FeatureTests = new Dictionary<string, DriftTest>
            {
                ["amount"] = DriftTest.Psi,
                ["colour"] = DriftTest.Wasserstein,
                ["email"] = DriftTest.ChiSquared,
                ["nope"] = DriftTest.JensenShannon,
                ["flag"] = (DriftTest)42,
            },
            PredictionTest = (DriftTest)7,
        };

        var errors = policy.Validate(DriftData.Schema);

        Assert.Equal(["feature_tests.colour", "feature_tests.email", "feature_tests.flag", "feature_tests.nope", "prediction_test"], errors.Keys);
        Assert.Contains("needs a numeric feature", errors["feature_tests.colour"][0], StringComparison.Ordinal);
        // Tests and types are named as the API spells them, not as C# does.
        Assert.Matches("^[a-z_]+ needs a numeric feature; 'colour' is categorical\\. Use chi_squared, jensen_shannon or psi\\.$", errors["feature_tests.colour"][0]);
        Assert.Contains("kolmogorov_smirnov", errors["prediction_test"][0], StringComparison.Ordinal);
        Assert.Contains("PII", errors["feature_tests.email"][0], StringComparison.Ordinal);
        Assert.Equal(["is not a feature of model 'drift_test'."], errors["feature_tests.nope"]);
        // Without a schema only what the policy alone can tell.
        Assert.Equal(["feature_tests.flag", "prediction_test"], policy.Validate().Keys);
    }

    [Fact]
    public void A_put_body_names_only_what_it_changes()
    {
        var policy = JsonSerializer.Deserialize<DriftPolicy>("""{ "psi": 0.25, "feature_tests": { "amount": "psi" } }""", Json)!;

        Assert.Equal(DriftPolicy.Default with { Psi = 0.25, FeatureTests = policy.FeatureTests }, policy);
        Assert.Equal(DriftTest.Psi, policy.FeatureTests!["amount"]);
        Assert.Equal(0.05, policy.KsPValue);
    }

    [Fact]
    public void Thresholds_are_read_per_test()
    {
        var policy = new DriftPolicy(KsPValue: 0.01, Psi: 0.3);

        Assert.Equal(0.01, policy.ThresholdOf(DriftTest.KolmogorovSmirnov));
        Assert.Equal(0.3, policy.ThresholdOf(DriftTest.Psi));
        Assert.Equal(0.1, policy.ThresholdOf(DriftTest.JensenShannon));
        Assert.True(DriftPolicy.Fits(DriftTest.Wasserstein, FeatureType.Numeric));
        Assert.False(DriftPolicy.Fits(DriftTest.KolmogorovSmirnov, FeatureType.Boolean));
        Assert.True(DriftPolicy.Fits(DriftTest.ChiSquared, FeatureType.Numeric));
    }
}
