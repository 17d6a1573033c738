using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Drift;
using Flywheel.Core.Profiles;
using Flywheel.Core.Schema;
using static Flywheel.Core.Tests.Drift.DriftData;

namespace Flywheel.Core.Tests.Drift;

public sealed class DriftEvaluatorTests
{
    /// <summary>The options the services serialise with (ServiceDefaults): snake_case names and enums.</summary>
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    private static readonly ReferenceProfile Reference20K = Reference(20_000);

    [Fact]
    public void Small_windows_get_p_value_tests_and_large_ones_distances()
    {
        var small = DriftEvaluator.Evaluate(Window(Reference20K, 1000, seed: 2), DriftPolicy.Default);
        var large = DriftEvaluator.Evaluate(Window(Reference20K, 1001, seed: 2), DriftPolicy.Default);

        Assert.Equal(DriftTest.KolmogorovSmirnov, Feature(small, "amount").Test);
        Assert.Equal(DriftTest.ChiSquared, Feature(small, "colour").Test);
        Assert.Equal(DriftTest.ChiSquared, Feature(small, "flag").Test);
        Assert.Equal(DriftTest.KolmogorovSmirnov, small.Prediction!.Test);
        Assert.NotNull(Feature(small, "amount").PValue);

        Assert.Equal(DriftTest.Wasserstein, Feature(large, "amount").Test);
        Assert.Equal(DriftTest.JensenShannon, Feature(large, "colour").Test);
        Assert.Equal(DriftTest.JensenShannon, Feature(large, "flag").Test);
        Assert.Equal(DriftTest.Wasserstein, large.Prediction!.Test);
        Assert.Null(Feature(large, "amount").PValue);
        Assert.Equal(0.1, Feature(large, "amount").Threshold);
    }

    [Fact]
    public void The_size_that_decides_is_the_features_present_values_not_the_rows()
    {
        var window = new DriftWindow(DriftData.Schema, Reference20K);
        var random = new Random(3);
        for (var i = 0; i < 2000; i++)
        {
            var row = Row(random);
            row["amount"] = i % 2 == 0 ? row["amount"] : null;
            window.Add(row, null);
        }

        var report = DriftEvaluator.Evaluate(window, DriftPolicy.Default);

        Assert.Equal(1000, Feature(report, "amount").Values);
        Assert.Equal(DriftTest.KolmogorovSmirnov, Feature(report, "amount").Test);
        Assert.Equal(DriftTest.JensenShannon, Feature(report, "colour").Test);
    }

    [Fact]
    public void A_policy_can_force_a_test_per_feature_and_for_the_scores()
    {
        var policy = DriftPolicy.Default with
        {
            FeatureTests = new Dictionary<string, DriftTest> { ["amount"] = DriftTest.Psi, ["colour"] = DriftTest.Psi, ["flag"] = DriftTest.KolmogorovSmirnov },
            PredictionTest = DriftTest.JensenShannon,
        };

        var report = DriftEvaluator.Evaluate(Window(Reference20K, 500, seed: 4), policy);

        var amount = Feature(report, "amount");
        Assert.Equal((DriftTest.Psi, 0.2), (amount.Test!.Value, amount.Threshold!.Value));
        Assert.Equal(DriftTest.Psi, Feature(report, "colour").Test);
        // KS cannot compare categories, so the boolean keeps the test its size calls for.
        Assert.Equal(DriftTest.ChiSquared, Feature(report, "flag").Test);
        Assert.Equal(DriftTest.JensenShannon, report.Prediction!.Test);
        Assert.False(amount.Drifted);
    }

    [Fact]
    public void The_thresholds_decide()
    {
        // A 0.2 std shift on a large window: Wasserstein about 0.2, drifted at 0.1, not at 0.3.
        var window = Window(Reference20K, 5000, seed: 5, shift: 0.2);

        var strict = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default), "amount");
        var lenient = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default with { WassersteinNormed = 0.3 }), "amount");

        Assert.InRange(strict.Statistic!.Value, 0.15, 0.25);
        Assert.Equal(strict.Statistic, lenient.Statistic);
        Assert.True(strict.Drifted);
        Assert.False(lenient.Drifted);
    }

    [Fact]
    public void A_real_shift_drifts_at_both_sizes_and_the_dataset_with_it()
    {
        var small = DriftEvaluator.Evaluate(Window(Reference20K, 300, seed: 6, shift: 0.5, colourShares: [0.1, 0.2, 0.3, 0.4]), DriftPolicy.Default);
        var large = DriftEvaluator.Evaluate(Window(Reference20K, 50_000, seed: 6, shift: 0.5, colourShares: [0.1, 0.2, 0.3, 0.4]), DriftPolicy.Default);

        foreach (var report in new[] { small, large })
        {
            Assert.True(Feature(report, "amount").Drifted);
            Assert.True(Feature(report, "colour").Drifted);
            Assert.False(Feature(report, "flag").Drifted);
            Assert.Equal(2.0 / 3, report.DriftedShare, 1e-12);
            Assert.True(report.Drifted);
            Assert.True(report.Prediction!.Drifted);
        }

        Assert.True(Feature(small, "amount").PValue < 1e-6);
        Assert.InRange(Feature(large, "amount").Statistic!.Value, 0.45, 0.55);
    }

    [Fact]
    public void The_dataset_drifts_when_the_drifted_share_reaches_the_policys()
    {
        // Only amount shifts: 1 of 3 tested features (PII is not tested).
        var window = Window(Reference20K, 2000, seed: 7, shift: 0.5);

        var report = DriftEvaluator.Evaluate(window, DriftPolicy.Default);
        var third = DriftEvaluator.Evaluate(window, DriftPolicy.Default with { DatasetDriftShare = 1.0 / 3 });

        Assert.Equal(1.0 / 3, report.DriftedShare, 1e-12);
        Assert.False(report.Drifted);
        Assert.True(third.Drifted);
    }

    [Fact]
    public void The_large_sample_behaviour_a_tiny_shift_is_significant_but_not_drift()
    {
        var reference = Reference(200_000, seed: 8);
        var window = Window(reference, 200_000, seed: 9, shift: 0.02);

        var naive = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default with { FeatureTests = new Dictionary<string, DriftTest> { ["amount"] = DriftTest.KolmogorovSmirnov } }), "amount");
        var chosen = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default), "amount");

        // The naive failure: a p-value test on 200k rows calls a 0.02 std shift significant.
        Assert.True(naive.PValue < 0.05, $"KS p = {naive.PValue}");
        Assert.True(naive.Drifted);
        // The policy chooses the normalised Wasserstein distance, which measures the shift's size.
        Assert.Equal(DriftTest.Wasserstein, chosen.Test);
        Assert.InRange(chosen.Statistic!.Value, 0.005, 0.05);
        Assert.False(chosen.Drifted);

        var shifted = Feature(DriftEvaluator.Evaluate(Window(reference, 200_000, seed: 10, shift: 0.5), DriftPolicy.Default), "amount");
        Assert.True(shifted.Drifted);
    }

    [Fact]
    public void Windows_like_the_reference_rarely_raise_drift_and_shifted_ones_always_do()
    {
        int amountAlarms = 0, colourAlarms = 0, flagAlarms = 0, datasetAlarms = 0, shiftedCaught = 0;
        for (var seed = 100; seed < 200; seed++)
        {
            var report = DriftEvaluator.Evaluate(Window(Reference20K, 500, seed), DriftPolicy.Default);
            amountAlarms += Feature(report, "amount").Drifted ? 1 : 0;
            colourAlarms += Feature(report, "colour").Drifted ? 1 : 0;
            flagAlarms += Feature(report, "flag").Drifted ? 1 : 0;
            datasetAlarms += report.Drifted ? 1 : 0;

            var shifted = DriftEvaluator.Evaluate(Window(Reference20K, 500, seed, shift: 0.5), DriftPolicy.Default);
            shiftedCaught += Feature(shifted, "amount").Drifted ? 1 : 0;
        }

        // At a 0.05 level about 5 of 100 null windows fire per test; 10 allows for chance (binomial
        // P(X > 10) ≈ 1.1 %), while a test that fires on noise or never would fail one of these.
        Assert.InRange(amountAlarms, 0, 10);
        Assert.InRange(colourAlarms, 0, 10);
        Assert.InRange(flagAlarms, 0, 10);
        Assert.InRange(datasetAlarms, 0, 5);
        Assert.Equal(100, shiftedCaught);
    }

    [Fact]
    public void A_rising_missing_rate_drifts_beyond_the_allowed_increase()
    {
        Assert.Equal(0, Reference20K.Features[0].MissingRate);

        var report = DriftEvaluator.Evaluate(WithMissingAmount(missingShare: 0.2), DriftPolicy.Default);
        var fewer = DriftEvaluator.Evaluate(WithMissingAmount(missingShare: 0.05), DriftPolicy.Default);

        Assert.Equal(0.2, Feature(report, "amount").MissingRate, 1e-12);
        Assert.True(Feature(report, "amount").MissingRateDrifted);
        Assert.Equal(0.05, Feature(fewer, "amount").MissingRate, 1e-12);
        Assert.False(Feature(fewer, "amount").MissingRateDrifted);
        Assert.False(Feature(report, "colour").MissingRateDrifted);
    }

    [Fact]
    public void Values_outside_the_reference_range_are_counted()
    {
        var amount = Reference20K.Features[0].Numeric!;
        var window = new DriftWindow(DriftData.Schema, Reference20K);
        var random = new Random(11);
        for (var i = 0; i < 400; i++)
        {
            var row = Row(random);
            // 30 of 400 (7.5 %) above the reference's maximum, 10 (2.5 %) below its minimum.
            row["amount"] = i < 30 ? amount.Max + 1 : i < 40 ? amount.Min - 1 : row["amount"];
            window.Add(row, 0.3);
        }

        var feature = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default), "amount");
        var lenient = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default with { OutOfRangeRate = 0.2 }), "amount");

        Assert.Equal(0.1, feature.OutOfRangeRate, 1e-12);
        Assert.True(feature.OutOfRangeDrifted);
        Assert.False(lenient.OutOfRangeDrifted);
        // They land in the reference's outer bins, on top of the in-range values there.
        Assert.True(feature.Histogram.Current[^1] >= 30.0 / 400);
        Assert.True(feature.Histogram.Current[0] >= 10.0 / 400);
    }

    [Fact]
    public void Unseen_categories_fall_in_other_drift_and_are_out_of_range()
    {
        var window = new DriftWindow(DriftData.Schema, Reference20K);
        var random = new Random(12);
        for (var i = 0; i < 500; i++)
        {
            var row = Row(random);
            row["colour"] = i % 10 == 0 ? "purple" : row["colour"];
            window.Add(row, 0.3);
        }

        var colour = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default), "colour");

        Assert.Equal(["red", "green", "blue", "yellow", FeatureHistogram.OtherBin], colour.Histogram.Bins);
        Assert.Equal(0, colour.Histogram.Reference[^1]);
        Assert.Equal(0.1, colour.Histogram.Current[^1], 1e-12);
        Assert.Equal(0.1, colour.OutOfRangeRate, 1e-12);
        Assert.True(colour.OutOfRangeDrifted);
        Assert.Equal(DriftTest.ChiSquared, colour.Test);
        Assert.True(colour.Drifted);
        Assert.True(colour.PValue < 1e-10);
    }

    [Fact]
    public void Category_shares_are_charted_against_the_reference()
    {
        var colour = Feature(DriftEvaluator.Evaluate(Window(Reference20K, 800, seed: 13), DriftPolicy.Default), "colour");
        var reference = Reference20K.Features[1].Categorical!;

        // No "other" on either side: four bins.
        Assert.Equal(reference.Categories.Select(c => c.Value), colour.Histogram.Bins);
        Assert.Equal(reference.Categories.Select(c => c.Share), colour.Histogram.Reference);
        Assert.Equal(1, colour.Histogram.Current.Sum(), 1e-12);
        Assert.Equal(0, colour.OutOfRangeRate);
    }

    [Fact]
    public void Pii_features_get_only_the_missing_rate_check()
    {
        var window = new DriftWindow(DriftData.Schema, Reference20K);
        var random = new Random(14);
        for (var i = 0; i < 100; i++)
        {
            var row = Row(random);
            row["email"] = i < 50 ? null : row["email"];
            window.Add(row, null);
        }

        var email = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default), "email");

        Assert.Null(email.Test);
        Assert.Null(email.Statistic);
        Assert.False(email.Drifted);
        Assert.Contains("PII", email.Skipped);
        Assert.Empty(email.Histogram.Bins);
        Assert.Equal(0.5, email.MissingRate);
        Assert.True(email.MissingRateDrifted);
        Assert.Equal(50, email.Values);
    }

    [Fact]
    public void An_empty_window_reports_nothing_drifted_and_serialises()
    {
        var report = DriftEvaluator.Evaluate(new DriftWindow(DriftData.Schema, Reference20K), DriftPolicy.Default);

        Assert.Equal(0, report.Rows);
        Assert.False(report.Drifted);
        Assert.Equal(0, report.DriftedShare);
        Assert.Null(report.Prediction);
        Assert.All(report.Features, f => Assert.Null(f.Test));
        Assert.All(report.Features, f => Assert.Equal(0, f.MissingRate));
        Assert.Contains("\"rows\":0", JsonSerializer.Serialize(report, Json), StringComparison.Ordinal);
    }

    [Fact]
    public void A_window_of_only_missing_values_tests_nothing_but_flags_the_missing_rate()
    {
        var window = new DriftWindow(DriftData.Schema, Reference20K);
        for (var i = 0; i < 10; i++)
        {
            window.Add(new Dictionary<string, object?>(), null);
        }

        var report = DriftEvaluator.Evaluate(window, DriftPolicy.Default);

        Assert.Equal(["No values in the window.", "No values in the window.", "No values in the window.", "PII feature: only its missing rate is monitored."], report.Features.Select(f => f.Skipped));
        Assert.All(report.Features, f => Assert.True(f.MissingRateDrifted));
        Assert.False(report.Drifted);
        Assert.Null(report.Prediction);
    }

    [Fact]
    public void A_constant_reference_drifts_only_when_the_value_moves()
    {
        var schema = new ModelSchema("constant", ModelTask.Regression, [new("level", FeatureType.Numeric)], new("y", FeatureType.Numeric));
        var reference = ProfileBuilder.Build(schema, Enumerable.Repeat(Level(5), 1000), [1, 2, 3]);
        Assert.Equal(0, reference.Features[0].Numeric!.StdDev);

        foreach (var rows in new[] { 200, 5000 })
        {
            var same = new DriftWindow(schema, reference);
            var moved = new DriftWindow(schema, reference);
            for (var i = 0; i < rows; i++)
            {
                same.Add(Level(5), null);
                moved.Add(Level(i % 2 == 0 ? 5 : 5.01), null);
            }

            var still = DriftEvaluator.Evaluate(same, DriftPolicy.Default).Features[0];
            var drifted = DriftEvaluator.Evaluate(moved, DriftPolicy.Default).Features[0];

            Assert.Equal(0, still.Statistic);
            Assert.False(still.Drifted);
            Assert.Equal(0, still.OutOfRangeRate);
            Assert.True(drifted.Drifted);
            Assert.Equal(0.5, drifted.OutOfRangeRate, 1e-12);
            if (rows > DriftPolicy.Default.LargeSample)
            {
                // Half the values moved by 0.01: W1 = 0.005, over the 0.001 floor under the std.
                Assert.Equal(5, drifted.Statistic!.Value, 1e-9);
            }
            else
            {
                Assert.Equal(0.5, drifted.Statistic!.Value, 1e-12);
            }
        }

        static Dictionary<string, object?> Level(double value) => new() { ["level"] = value };
    }

    [Fact]
    public void Prediction_drift_compares_the_scores_and_skips_rows_without_one()
    {
        var window = new DriftWindow(DriftData.Schema, Reference20K);
        var random = new Random(15);
        for (var i = 0; i < 3000; i++)
        {
            window.Add(Row(random), i % 3 == 0 ? null : Score(random, shift: 1));
        }

        var prediction = DriftEvaluator.Evaluate(window, DriftPolicy.Default).Prediction!;

        Assert.Equal(2000, prediction.Values);
        Assert.Equal(2000, window.Scores);
        Assert.Equal(DriftTest.Wasserstein, prediction.Test);
        Assert.InRange(prediction.Statistic, 0.9, 1.1);
        Assert.True(prediction.Drifted);
        Assert.Equal(Reference20K.Prediction.Histogram.Counts.Count, prediction.Histogram.Bins.Count);
    }

    [Fact]
    public void Numeric_bins_are_the_references_own()
    {
        var amount = Reference20K.Features[0].Numeric!;
        var window = Window(Reference20K, 700, seed: 16);
        var feature = Feature(DriftEvaluator.Evaluate(window, DriftPolicy.Default), "amount");

        Assert.Equal(amount.Histogram.Counts.Count, feature.Histogram.Bins.Count);
        Assert.StartsWith($"[{amount.Histogram.Edges[0].ToString(System.Globalization.CultureInfo.InvariantCulture)}, ", feature.Histogram.Bins[0], StringComparison.Ordinal);
        Assert.EndsWith("]", feature.Histogram.Bins[^1], StringComparison.Ordinal);
        Assert.EndsWith(")", feature.Histogram.Bins[0], StringComparison.Ordinal);
        Assert.Equal(amount.Histogram.Counts.Select(c => c / 20_000.0), feature.Histogram.Reference);
        Assert.Equal(1, feature.Histogram.Current.Sum(), 1e-12);
    }

    [Fact]
    public void Reports_serialise_as_plain_json_with_nulls_for_what_was_not_computed()
    {
        var report = DriftEvaluator.Evaluate(Window(Reference20K, 2000, seed: 17, shift: 0.3), DriftPolicy.Default);

        var json = JsonSerializer.Serialize(report, Json);
        using var document = JsonDocument.Parse(json);
        var features = document.RootElement.GetProperty("features");

        Assert.Equal("wasserstein", features[0].GetProperty("test").GetString());
        Assert.Equal(JsonValueKind.Null, features[0].GetProperty("p_value").ValueKind);
        Assert.Equal(JsonValueKind.Null, features[3].GetProperty("statistic").ValueKind);
        Assert.True(document.RootElement.GetProperty("prediction").GetProperty("drifted").GetBoolean());
        var back = JsonSerializer.Deserialize<DriftReport>(json, Json)!;
        Assert.Equal(report.Features, back.Features, (a, b) => a with { Histogram = b.Histogram } == b && a.Histogram.Bins.SequenceEqual(b.Histogram.Bins));
        Assert.Equal(report.Prediction!.Statistic, back.Prediction!.Statistic);
    }

    [Fact]
    public void A_row_of_the_wrong_type_is_refused_and_not_counted()
    {
        var window = new DriftWindow(DriftData.Schema, Reference20K);

        var error = Assert.Throws<ArgumentException>(() => window.Add(new Dictionary<string, object?> { ["colour"] = "red", ["amount"] = "12" }, null));
        Assert.Contains("'amount'", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => window.Add(new Dictionary<string, object?> { ["amount"] = double.NaN }, null));
        Assert.Throws<ArgumentException>(() => window.Add(new Dictionary<string, object?>(), double.PositiveInfinity));

        Assert.Equal(0, window.Rows);
        Assert.Equal(0, DriftEvaluator.Evaluate(window, DriftPolicy.Default).Features[1].Values);
    }

    [Fact]
    public void A_reference_of_another_schema_is_refused()
    {
        var other = DriftData.Schema with { Features = [.. DriftData.Schema.Features.Reverse()] };

        Assert.Throws<ArgumentException>(() => new DriftWindow(other, Reference20K));
        Assert.Throws<ArgumentException>(() => new DriftWindow(DriftData.Schema with { Features = [.. DriftData.Schema.Features.Take(2)] }, Reference20K));
    }

    private static DriftWindow WithMissingAmount(double missingShare)
    {
        var window = new DriftWindow(DriftData.Schema, Reference20K);
        var random = new Random(18);
        for (var i = 0; i < 1000; i++)
        {
            var row = Row(random);
            row["amount"] = i < missingShare * 1000 ? null : row["amount"];
            window.Add(row, 0.3);
        }

        return window;
    }
}
