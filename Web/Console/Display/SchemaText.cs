using Flywheel.Console.Platform;

namespace Flywheel.Console.Display;

public static class SchemaText
{
    /// <summary>What values a feature may take: its categories, its bounds, or "any".</summary>
    public static string Domain(FeatureView feature) => (feature.Min, feature.Max, feature.Categories) switch
    {
        (_, _, { Count: > 0 } categories) => string.Join(", ", categories),
        ({ } min, { } max, _) => $"{Format.Number(min)} to {Format.Number(max)}",
        ({ } min, null, _) => $"≥ {Format.Number(min)}",
        (null, { } max, _) => $"≤ {Format.Number(max)}",
        _ => "any",
    };
}
