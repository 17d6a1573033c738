using System.Globalization;
using System.Text.Json;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>
/// Reads one feature value from JSON as a request or the online store carries it, strictly:
/// numbers are JSON numbers (a string "NaN" or "12" is refused, so a caller's type bug never
/// scores as a silently converted value), booleans are JSON true/false, categories are strings.
/// </summary>
public static class FeatureValues
{
    public const int MaxTextLength = RowValidator.MaxTextLength;

    /// <summary>The typed value (double, bool, string or null), or null with an error added under <paramref name="field"/>.</summary>
    public static object? Read(FeatureDefinition feature, JsonElement value, ServingSettings settings, string field, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(feature);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(errors);
        if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            if (!feature.Nullable)
            {
                errors.Add(new(field, "is required (it is not nullable).", Code: "required"));
            }

            return null;
        }

        switch (feature.Type)
        {
            case FeatureType.Numeric:
                if (value.ValueKind != JsonValueKind.Number)
                {
                    errors.Add(new(field, $"must be a JSON number, not {Describe(value)}.", Code: "type"));
                    return null;
                }

                if (!value.TryGetDouble(out var number) || !double.IsFinite(number))
                {
                    errors.Add(new(field, "must be a finite number.", Code: "type"));
                    return null;
                }

                if (feature.Min is { } min && number < min)
                {
                    errors.Add(new(field, $"{Invariant(number)} is below the minimum {Invariant(min)}.", Code: "range"));
                    return null;
                }

                if (feature.Max is { } max && number > max)
                {
                    errors.Add(new(field, $"{Invariant(number)} is above the maximum {Invariant(max)}.", Code: "range"));
                    return null;
                }

                return number;

            case FeatureType.Boolean:
                if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    return value.GetBoolean();
                }

                errors.Add(new(field, $"must be true or false, not {Describe(value)}.", Code: "type"));
                return null;

            default:
                if (value.ValueKind != JsonValueKind.String)
                {
                    errors.Add(new(field, $"must be a string (a category), not {Describe(value)}.", Code: "type"));
                    return null;
                }

                var text = value.GetString()!;
                if (text.Length > MaxTextLength)
                {
                    errors.Add(new(field, $"is longer than {MaxTextLength} characters.", Code: "length"));
                    return null;
                }

                if (feature.Categories is { } categories && !categories.Contains(text, StringComparer.Ordinal) &&
                    settings.UnknownCategories == UnknownCategoryPolicy.Reject)
                {
                    var allowed = string.Join(", ", categories.Take(10)) + (categories.Count > 10 ? $", … ({categories.Count} in all)" : "");
                    errors.Add(new(field, $"'{Shorten(text)}' is not a known category ({allowed}).", Code: "category"));
                    return null;
                }

                return text;
        }
    }

    /// <summary>The float an ONNX input carries for a numeric or boolean value: true 1, false 0, NaN when missing.</summary>
    public static float ToFloat(object? value) => value switch
    {
        null => float.NaN,
        double number => (float)number,
        float number => number,
        bool flag => flag ? 1f : 0f,
        _ => throw new ArgumentException($"A {value.GetType().Name} is not a numeric or boolean feature value.", nameof(value)),
    };

    /// <summary>The string an ONNX input carries for a categorical value: empty when missing.</summary>
    public static string ToText(object? value) => value switch
    {
        null => "",
        string text => text,
        _ => throw new ArgumentException($"A {value.GetType().Name} is not a categorical feature value.", nameof(value)),
    };

    internal static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Shorten(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => "null",
    };

    private static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
