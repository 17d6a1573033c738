using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Core.Profiles;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Tests.Profiles;

public sealed class ProfileBuilderTests
{
    private const double Tolerance = 1e-12;

    /// <summary>The options the services serialise with (ServiceDefaults): snake_case names and enums.</summary>
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    private static readonly ModelSchema Schema = new(
        "card_fraud",
        ModelTask.Binary,
        [
            new("amount", FeatureType.Numeric, Nullable: true),
            new("merchant_category", FeatureType.Categorical, Nullable: true),
            new("is_online", FeatureType.Boolean, Nullable: true),
            new("email", FeatureType.Categorical, Nullable: true, Pii: true),
        ],
        new("is_fraud", FeatureType.Boolean));

    private static readonly ModelSchema NoFeatures = Schema with { Features = [] };

    private static Dictionary<string, object?> Row(double? amount, string? category = "grocery", bool? online = true, string? email = "a@example.com") => new()
    {
        ["amount"] = amount,
        ["merchant_category"] = category,
        ["is_online"] = online,
        ["email"] = email,
        ["is_fraud"] = false,
    };

    /// <summary>Profiles numbers through the prediction scores, which take the same path as a numeric feature.</summary>
    private static NumericProfile Numbers(int bins, params double[] values) =>
        ProfileBuilder.Build(NoFeatures, [], values, bins).Prediction;

    private static FeatureProfile Feature(ReferenceProfile profile, string name) => Assert.Single(profile.Features, f => f.Name == name);

    [Fact]
    public void Moments_and_percentiles_of_one_to_five()
    {
        // Mean 3; population variance (4 + 1 + 0 + 1 + 4) / 5 = 2, so StdDev sqrt 2.
        // Percentile p sits at position p / 100 * (5 - 1) in [1, 2, 3, 4, 5], interpolated linearly:
        // p10 -> 0.4 -> 1.4; p25 -> 1 -> 2; p50 -> 2 -> 3; p90 -> 3.6 -> 4.6; p99 -> 3.96 -> 4.96.
        var profile = Numbers(10, 4, 2, 5, 1, 3);

        Assert.Equal((5L, 1.0, 5.0, 3.0), (profile.Count, profile.Min, profile.Max, profile.Mean));
        Assert.Equal(Math.Sqrt(2), profile.StdDev, Tolerance);
        Assert.Equal(101, profile.Quantiles.Count);
        Assert.Equal(1.0, profile.Quantiles[0]);
        Assert.Equal(1.4, profile.Quantiles[10], Tolerance);
        Assert.Equal(2.0, profile.Quantiles[25], Tolerance);
        Assert.Equal(3.0, profile.Quantiles[50], Tolerance);
        Assert.Equal(4.6, profile.Quantiles[90], Tolerance);
        Assert.Equal(4.96, profile.Quantiles[99], Tolerance);
        Assert.Equal(5.0, profile.Quantiles[100]);
    }

    [Fact]
    public void Percentiles_never_decrease()
    {
        var random = new Random(11);
        var profile = Numbers(10, [.. Enumerable.Range(0, 333).Select(_ => Math.Round(random.NextDouble() * 1e6, 1) - 5e5)]);

        Assert.All(profile.Quantiles.Zip(profile.Quantiles.Skip(1)), pair => Assert.True(pair.First <= pair.Second));
    }

    [Fact]
    public void Histogram_edges_sit_at_the_quantiles()
    {
        // Four bins over [1, 2, 3, 4, 5]: edges at the 0, 25, 50, 75, 100th percentiles = 1, 2, 3, 4, 5.
        // [1, 2) 1 | [2, 3) 2 | [3, 4) 3 | [4, 5] 4 and 5.
        var histogram = Numbers(4, 1, 2, 3, 4, 5).Histogram;

        Assert.Equal([1.0, 2, 3, 4, 5], histogram.Edges);
        Assert.Equal([1L, 1, 1, 2], histogram.Counts);
    }

    [Fact]
    public void Histogram_edges_interpolate_between_values()
    {
        // Two bins over 1..10: the median sits at position 4.5, between 5 and 6 -> edges 1, 5.5, 10.
        var histogram = Numbers(2, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1).Histogram;

        Assert.Equal([1.0, 5.5, 10], histogram.Edges);
        Assert.Equal([5L, 5], histogram.Counts);
    }

    [Fact]
    public void Repeated_quantile_edges_merge_into_one_wider_bin()
    {
        // [0, 0, 0, 0, 0, 0, 1, 2, 3, 4], four bins: positions 0, 2.25, 4.5, 6.75, 9 give
        // 0, 0, 0, 1 + 0.75 * (2 - 1) = 1.75, 4 -> edges 0, 1.75, 4.
        // [0, 1.75) holds the six zeros and 1; [1.75, 4] holds 2, 3 and 4.
        var histogram = Numbers(4, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4).Histogram;

        Assert.Equal([0.0, 1.75, 4], histogram.Edges);
        Assert.Equal([7L, 3], histogram.Counts);
    }

    [Fact]
    public void A_feature_with_few_distinct_values_gets_one_bin_per_value()
    {
        // Five distinct values, ten bins allowed: split at the midpoints 1.5, 2.5, 3.5, 4.5.
        var histogram = Numbers(10, 1, 2, 2, 3, 4, 5).Histogram;

        Assert.Equal([1.0, 1.5, 2.5, 3.5, 4.5, 5], histogram.Edges);
        Assert.Equal([1L, 2, 1, 1, 1], histogram.Counts);
    }

    [Fact]
    public void A_rare_flag_keeps_its_own_bin()
    {
        // 990 zeros and 10 ones. Quantile edges would all be 0 up to the maximum (edges 0, 1: one bin
        // holding everything), so a shift in the share of ones could not show; per-value bins keep it.
        var profile = Numbers(10, [.. Enumerable.Repeat(0.0, 990), .. Enumerable.Repeat(1.0, 10)]);

        Assert.Equal([0.0, 0.5, 1], profile.Histogram.Edges);
        Assert.Equal([990L, 10], profile.Histogram.Counts);
        Assert.Equal(1, profile.Histogram.BinOf(1));
    }

    [Fact]
    public void Two_adjacent_doubles_still_get_a_bin_each()
    {
        // No double lies between 1 and the next one up, so the upper value's bin is [next, next].
        var next = Math.BitIncrement(1.0);

        var histogram = Numbers(10, 1, next).Histogram;

        Assert.Equal([1.0, next, next], histogram.Edges);
        Assert.Equal([1L, 1], histogram.Counts);
    }

    [Fact]
    public void A_constant_feature_has_one_zero_width_bin_and_no_spread()
    {
        // 0.1 three times sums to 0.30000000000000004; the mean must still be 0.1 and the spread 0.
        var profile = Numbers(10, 0.1, 0.1, 0.1);

        Assert.Equal([0.1, 0.1], profile.Histogram.Edges);
        Assert.Equal([3L], profile.Histogram.Counts);
        Assert.Equal((0.1, 0.1, 0.1, 0.0), (profile.Min, profile.Max, profile.Mean, profile.StdDev));
        Assert.All(profile.Quantiles, q => Assert.Equal(0.1, q));
    }

    [Fact]
    public void Histogram_counts_add_up_to_the_values_and_rebin_identically()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 1000).Select(_ => Math.Round(random.NextDouble() * 20, 1)).ToArray();

        var histogram = Numbers(10, values).Histogram;

        Assert.Equal(histogram.Edges.Count - 1, histogram.Counts.Count);
        Assert.Equal(10, histogram.Counts.Count);
        Assert.Equal(1000, histogram.Counts.Sum());
        var rebinned = new long[histogram.Counts.Count];
        foreach (var value in values)
        {
            rebinned[histogram.BinOf(value)]++;
        }

        Assert.Equal(histogram.Counts, rebinned);
    }

    [Fact]
    public void Numeric_features_count_missing_values_apart()
    {
        // Rows: 10, null, 30, absent -> Count 2, Missing 2, MissingRate 2 / 4.
        var rows = new[] { Row(10), Row(null), Row(30), new Dictionary<string, object?>() };

        var amount = Feature(ProfileBuilder.Build(Schema, rows, [0.5]), "amount");

        Assert.Equal((FeatureType.Numeric, 2L, 2L, 0.5), (amount.Type, amount.Count, amount.Missing, amount.MissingRate));
        Assert.Null(amount.Categorical);
        Assert.Equal((2L, 10.0, 30.0, 20.0, 10.0), (amount.Numeric!.Count, amount.Numeric.Min, amount.Numeric.Max, amount.Numeric.Mean, amount.Numeric.StdDev));
    }

    [Fact]
    public void Categories_are_ordered_by_count_then_name_with_their_share()
    {
        // b, a, b, c, a, b, a and two missing: a 3, b 3 (tie -> by name), c 1 of 7 present, 2 of 9 missing.
        string?[] values = ["b", "a", "b", "c", "a", "b", "a", null, null];

        var category = Feature(ProfileBuilder.Build(Schema, values.Select(v => Row(1, v)), []), "merchant_category");

        Assert.Equal((7L, 2L), (category.Count, category.Missing));
        Assert.Equal(2.0 / 9, category.MissingRate, Tolerance);
        Assert.Null(category.Numeric);
        Assert.Equal(
            [new("a", 3, 3.0 / 7), new("b", 3, 3.0 / 7), new CategoryFrequency("c", 1, 1.0 / 7)],
            category.Categorical!.Categories);
        Assert.Equal((7L, 0L), (category.Categorical.Count, category.Categorical.OtherCount));
    }

    [Fact]
    public void Only_the_top_100_categories_are_kept_and_the_rest_counted_as_other()
    {
        // "z" five times, then cat_000..cat_104 once each: z and cat_000..cat_098 make the 100 kept;
        // cat_099..cat_104 are 6 others. 110 present values in all.
        var values = Enumerable.Repeat("z", 5).Concat(Enumerable.Range(0, 105).Select(i => $"cat_{i:D3}")).Reverse();

        var categorical = Feature(ProfileBuilder.Build(Schema, values.Select(v => Row(1, v)), []), "merchant_category").Categorical!;

        Assert.Equal(ProfileBuilder.MaxCategories, categorical.Categories.Count);
        Assert.Equal(new CategoryFrequency("z", 5, 5.0 / 110), categorical.Categories[0]);
        Assert.Equal("cat_000", categorical.Categories[1].Value);
        Assert.Equal("cat_098", categorical.Categories[^1].Value);
        Assert.Equal((110L, 6L), (categorical.Count, categorical.OtherCount));
    }

    [Fact]
    public void Category_names_compare_ordinally()
    {
        // Ordinal: upper case before lower case, whatever the culture.
        var categorical = Feature(ProfileBuilder.Build(Schema, [Row(1, "b"), Row(1, "B"), Row(1, "a")], []), "merchant_category").Categorical!;

        Assert.Equal(["B", "a", "b"], categorical.Categories.Select(c => c.Value));
    }

    [Fact]
    public void Booleans_profile_as_true_and_false_categories()
    {
        var online = Feature(ProfileBuilder.Build(Schema, [Row(1, online: true), Row(1, online: false), Row(1, online: true), Row(1, online: null)], []), "is_online");

        Assert.Equal((FeatureType.Boolean, 3L, 1L, 0.25), (online.Type, online.Count, online.Missing, online.MissingRate));
        Assert.Equal([new("true", 2, 2.0 / 3), new CategoryFrequency("false", 1, 1.0 / 3)], online.Categorical!.Categories);
        Assert.Null(online.Numeric);
    }

    [Fact]
    public void Pii_features_keep_only_their_counts()
    {
        var email = Feature(ProfileBuilder.Build(Schema, [Row(1, email: "a@example.com"), Row(1, email: null)], []), "email");

        Assert.Equal((1L, 1L, 0.5), (email.Count, email.Missing, email.MissingRate));
        Assert.Null(email.Numeric);
        Assert.Null(email.Categorical);
    }

    [Fact]
    public void An_all_missing_feature_gets_an_empty_profile()
    {
        var profile = ProfileBuilder.Build(Schema, [Row(null, null, null, null), Row(null, null, null, null)], [0.2]);

        var amount = Feature(profile, "amount");
        Assert.Equal((0L, 2L, 1.0), (amount.Count, amount.Missing, amount.MissingRate));
        AssertEmpty(amount.Numeric!);
        var category = Feature(profile, "merchant_category");
        Assert.Equal((0L, 0L), (category.Categorical!.Count, category.Categorical.OtherCount));
        Assert.Empty(category.Categorical.Categories);
        Assert.Empty(Feature(profile, "is_online").Categorical!.Categories);
    }

    [Fact]
    public void No_rows_and_no_scores_give_an_empty_profile_that_still_serialises()
    {
        var profile = ProfileBuilder.Build(Schema, [], []);

        Assert.Equal(0, profile.Rows);
        Assert.Equal(["amount", "merchant_category", "is_online", "email"], profile.Features.Select(f => f.Name));
        Assert.All(profile.Features, f => Assert.Equal((0L, 0L, 0.0), (f.Count, f.Missing, f.MissingRate)));
        AssertEmpty(Feature(profile, "amount").Numeric!);
        AssertEmpty(profile.Prediction);
        Assert.Contains("\"rows\":0", JsonSerializer.Serialize(profile, Json), StringComparison.Ordinal);
    }

    [Fact]
    public void The_prediction_profile_describes_the_scores()
    {
        // Scores need not be one per row. Mean (0.2 + 0.4 + 0.6 + 0.8) / 4 = 0.5.
        var prediction = ProfileBuilder.Build(Schema, [Row(1)], [0.8, 0.2, 0.6, 0.4]).Prediction;

        Assert.Equal((4L, 0.2, 0.8), (prediction.Count, prediction.Min, prediction.Max));
        Assert.Equal(0.5, prediction.Mean, Tolerance);
        Assert.Equal(4, prediction.Histogram.Counts.Sum());
    }

    [Fact]
    public void The_same_rows_in_any_order_give_the_same_profile()
    {
        var random = new Random(1);
        var rows = Enumerable.Range(0, 500).Select(i => Row(
            i % 7 == 0 ? null : Math.Round(random.NextDouble() * 1000, 3),
            $"c{random.Next(30)}",
            random.Next(2) == 0,
            null)).ToList();
        var scores = rows.Select(_ => random.NextDouble()).ToList();

        var first = JsonSerializer.Serialize(ProfileBuilder.Build(Schema, rows, scores), Json);
        var again = JsonSerializer.Serialize(ProfileBuilder.Build(Schema, rows, scores), Json);
        var shuffledRows = rows.ToArray();
        var shuffledScores = scores.ToArray();
        random.Shuffle(shuffledRows);
        random.Shuffle(shuffledScores);

        Assert.Equal(first, again);
        Assert.Equal(first, JsonSerializer.Serialize(ProfileBuilder.Build(Schema, shuffledRows, shuffledScores), Json));
    }

    [Fact]
    public void The_profile_round_trips_through_snake_case_json()
    {
        var profile = ProfileBuilder.Build(Schema, [Row(1, "a", true), Row(3, "b", false)], [0.25, 0.75], bins: 2);

        var json = JsonSerializer.Serialize(profile, Json);
        var read = JsonSerializer.Deserialize<ReferenceProfile>(json, Json)!;

        Assert.Equal(json, JsonSerializer.Serialize(read, Json));
        Assert.Equal(1, read.Prediction.Histogram.BinOf(0.8));
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(["rows", "features", "prediction"], root.EnumerateObject().Select(p => p.Name));
        var amount = root.GetProperty("features")[0];
        Assert.Equal(
            ["name", "type", "count", "missing", "missing_rate", "numeric", "categorical"],
            amount.EnumerateObject().Select(p => p.Name));
        Assert.Equal("numeric", amount.GetProperty("type").GetString());
        Assert.Equal(
            ["count", "min", "max", "mean", "std_dev", "quantiles", "histogram"],
            amount.GetProperty("numeric").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["edges", "counts"], amount.GetProperty("numeric").GetProperty("histogram").EnumerateObject().Select(p => p.Name));
        var categorical = root.GetProperty("features")[1].GetProperty("categorical");
        Assert.Equal(["count", "categories", "other_count"], categorical.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["value", "count", "share"], categorical.GetProperty("categories")[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal("boolean", root.GetProperty("features")[2].GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("amount", "12")]
    [InlineData("amount", 12)]
    [InlineData("merchant_category", 3.0)]
    [InlineData("is_online", "true")]
    public void A_value_of_the_wrong_type_is_refused_with_its_feature_and_row(string feature, object value)
    {
        var bad = Row(1);
        bad[feature] = value;

        var error = Assert.Throws<ArgumentException>(() => ProfileBuilder.Build(Schema, [Row(1), bad], []));

        Assert.Contains($"Feature '{feature}' in row 1", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Numbers_that_are_not_finite_are_refused(double bad)
    {
        Assert.Contains("'amount' in row 0", Assert.Throws<ArgumentException>(() => ProfileBuilder.Build(Schema, [Row(bad)], [])).Message, StringComparison.Ordinal);
        Assert.Contains("Prediction score 1", Assert.Throws<ArgumentException>(() => ProfileBuilder.Build(Schema, [], [0.5, bad])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void At_least_one_bin_is_needed() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ProfileBuilder.Build(Schema, [], [], bins: 0));

    private static void AssertEmpty(NumericProfile profile)
    {
        Assert.Equal((0L, 0.0, 0.0, 0.0, 0.0), (profile.Count, profile.Min, profile.Max, profile.Mean, profile.StdDev));
        Assert.Empty(profile.Quantiles);
        Assert.Empty(profile.Histogram.Edges);
        Assert.Empty(profile.Histogram.Counts);
    }
}
