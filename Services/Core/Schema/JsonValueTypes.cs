using System.Text.Json;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Schema;

/// <summary>
/// The JSON type a feature's value must have wherever a row arrives as JSON (predict and infer,
/// NDJSON and JSON event uploads): a number for a numeric feature, true or false for a boolean
/// one, a string for a categorical one, and a string for the reserved columns. The same client
/// code sends a model its data and its predictions, so both are held to the same types. Null is
/// the value's absence, which the schema's own checks judge. The reserved columns are strings
/// everywhere, the labels API and feedback included. A label (the target column, the labels API,
/// feedback) takes any JSON scalar that reads as the target's type, as documented (docs/serving.md,
/// "Feedback"); text formats (CSV) carry no types and are parsed from text.
/// </summary>
public static class JsonValueTypes
{
    /// <summary>Why a feature's value has the wrong JSON type, or null when it has the right one.</summary>
    public static string? FeatureProblem(FeatureType type, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.Number when type == FeatureType.Numeric => null,
        JsonValueKind.True or JsonValueKind.False when type == FeatureType.Boolean => null,
        JsonValueKind.String when type == FeatureType.Categorical => null,
        _ => Expected(type, value),
    };

    /// <summary>Why a reserved column's value (event_time, entity_id, event_id) is not a string, or null when it is one.</summary>
    public static string? TextProblem(JsonElement value) =>
        value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.String
            ? null
            : $"must be a string, not {FeatureValues.Describe(value)}.";

    private static string Expected(FeatureType type, JsonElement value) => type switch
    {
        FeatureType.Numeric => $"must be a JSON number, not {FeatureValues.Describe(value)}.",
        FeatureType.Boolean => $"must be true or false, not {FeatureValues.Describe(value)}.",
        _ => $"must be a string (a category), not {FeatureValues.Describe(value)}.",
    };
}
