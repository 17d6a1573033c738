using Flywheel.Console.Platform;

namespace Flywheel.Console.Versions;

/// <summary>
/// One feature of a reference profile in a line: how often it was missing, and its range
/// (numeric) or most frequent values (categorical and boolean). <see cref="Withheld"/> is true for
/// PII features, whose profiles keep counts only.
/// </summary>
public sealed record FeatureSummary(
    string Name,
    string Type,
    double MissingRate,
    double? Min,
    double? Mean,
    double? Max,
    IReadOnlyList<CategoryView> TopCategories,
    long OtherCount,
    bool Withheld);

public static class ProfileSummary
{
    public const int TopCategories = 5;

    public static IReadOnlyList<FeatureSummary> Of(ReferenceProfileView profile, int top = TopCategories) =>
        [.. profile.Features.Select(feature => Of(feature, top))];

    public static FeatureSummary Of(FeatureProfileView feature, int top = TopCategories)
    {
        // A numeric profile of no values (every row missing) has zero moments, not real ones.
        var numeric = feature.Numeric is { Count: > 0 } n ? n : null;
        var categories = feature.Categorical?.Categories
            .OrderByDescending(c => c.Count)
            .ThenBy(c => c.Value, StringComparer.Ordinal)
            .ToList() ?? [];
        var shown = categories.Take(top).ToList();
        var other = (feature.Categorical?.OtherCount ?? 0) + categories.Skip(top).Sum(c => c.Count);
        return new(
            feature.Name,
            feature.Type,
            feature.MissingRate,
            numeric?.Min,
            numeric?.Mean,
            numeric?.Max,
            shown,
            other,
            Withheld: feature.Numeric is null && feature.Categorical is null);
    }
}
