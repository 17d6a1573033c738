using Flywheel.Console.Platform;
using Flywheel.Console.Versions;

namespace Flywheel.Console.Tests.Versions;

public sealed class ProfileSummaryTests
{
    private static FeatureProfileView Categorical(params (string Value, long Count)[] categories) => new(
        "merchant", "categorical", categories.Sum(c => c.Count), 0, 0,
        null,
        new CategoricalProfileView(categories.Sum(c => c.Count), [.. categories.Select(c => new CategoryView(c.Value, c.Count, 0))], 3));

    [Fact]
    public void A_numeric_feature_shows_its_missing_rate_and_its_min_mean_and_max()
    {
        var summary = ProfileSummary.Of(new FeatureProfileView("amount", "numeric", 90, 10, 0.1, new NumericProfileView(90, 1, 50, 12.5, 3), null));

        Assert.Equal(0.1, summary.MissingRate);
        Assert.Equal((1.0, 12.5, 50.0), (summary.Min!.Value, summary.Mean!.Value, summary.Max!.Value));
        Assert.Empty(summary.TopCategories);
        Assert.False(summary.Withheld);
    }

    [Fact]
    public void A_numeric_feature_that_was_always_missing_has_no_range()
    {
        var summary = ProfileSummary.Of(new FeatureProfileView("amount", "numeric", 0, 10, 1, new NumericProfileView(0, 0, 0, 0, 0), null));

        Assert.Null(summary.Min);
        Assert.Null(summary.Mean);
        Assert.Null(summary.Max);
        Assert.False(summary.Withheld);
    }

    [Fact]
    public void A_categorical_feature_shows_its_most_frequent_values_and_counts_the_rest_as_other()
    {
        var summary = ProfileSummary.Of(Categorical(("b", 5), ("a", 5), ("c", 9), ("d", 1), ("e", 2)), top: 3);

        Assert.Equal(["c", "a", "b"], summary.TopCategories.Select(c => c.Value));
        // Three already outside the profile's categories, plus d and e.
        Assert.Equal(3 + 1 + 2, summary.OtherCount);
        Assert.Null(summary.Min);
    }

    [Fact]
    public void A_pii_feature_is_withheld_because_its_profile_keeps_counts_only()
    {
        var summary = ProfileSummary.Of(new FeatureProfileView("email", "categorical", 100, 0, 0, null, null));

        Assert.True(summary.Withheld);
        Assert.Empty(summary.TopCategories);
        Assert.Equal(0, summary.OtherCount);
    }

    [Fact]
    public void A_profile_is_summarised_feature_by_feature_in_its_order()
    {
        var profile = new ReferenceProfileView(100, [Categorical(("x", 1)), new FeatureProfileView("email", "categorical", 1, 0, 0, null, null)], null);

        Assert.Equal(["merchant", "email"], ProfileSummary.Of(profile).Select(f => f.Name));
    }
}
