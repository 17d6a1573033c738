using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
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

    // One box for each boolean: every request's booleans and every binary label share them.
    private static readonly object True = true;
    private static readonly object False = false;

    /// <summary>A boolean as the data plane passes it (as <see cref="object"/>), without a new box each time.</summary>
    public static object Box(bool value) => value ? True : False;

    /// <summary>The typed value (double, bool, string or null), or null with an error added under <paramref name="field"/>.</summary>
    public static object? Read(FeatureDefinition feature, JsonElement value, ServingSettings settings, string field, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var read = Read(feature, value, settings, categories: null, out var problem);
        if (problem is { } error)
        {
            errors.Add(new(field, error.Message, Code: error.Code));
        }

        return read;
    }

    /// <summary>
    /// The typed value, or null with the <paramref name="problem"/> (message and code) when it is
    /// refused. The caller names the field only when there is a problem, so a valid request builds
    /// no field names. <paramref name="categories"/> is the feature's categories as a set, where
    /// the caller keeps one (a long list is otherwise searched value by value).
    /// </summary>
    public static object? Read(
        FeatureDefinition feature, JsonElement value, ServingSettings settings, IReadOnlySet<string>? categories, out (string Message, string Code)? problem)
    {
        ArgumentNullException.ThrowIfNull(feature);
        ArgumentNullException.ThrowIfNull(settings);
        problem = null;
        if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            if (!feature.Nullable)
            {
                problem = ("is required (it is not nullable).", "required");
            }

            return null;
        }

        // The JSON type each feature takes, as uploads hold their rows to it too.
        if (JsonValueTypes.FeatureProblem(feature.Type, value) is { } wrongType)
        {
            problem = (wrongType, "type");
            return null;
        }

        switch (feature.Type)
        {
            case FeatureType.Numeric:
                if (!value.TryGetDouble(out var number) || !double.IsFinite(number))
                {
                    problem = ("must be a finite number.", "type");
                    return null;
                }

                if (!FitsFloat(number))
                {
                    problem = ($"{Invariant(number)} {OutsideFloat}", "range");
                    return null;
                }

                if (feature.Min is { } min && number < min)
                {
                    problem = ($"{Invariant(number)} is below the minimum {Invariant(min)}.", "range");
                    return null;
                }

                if (feature.Max is { } max && number > max)
                {
                    problem = ($"{Invariant(number)} is above the maximum {Invariant(max)}.", "range");
                    return null;
                }

                return number;

            case FeatureType.Boolean:
                return Box(value.ValueKind == JsonValueKind.True);

            default:

                var text = value.GetString()!;
                if (text.Length > MaxTextLength)
                {
                    problem = ($"is longer than {MaxTextLength} characters.", "length");
                    return null;
                }

                if (feature.Categories is { } known && settings.UnknownCategories == UnknownCategoryPolicy.Reject &&
                    !(categories?.Contains(text) ?? known.Contains(text, StringComparer.Ordinal)))
                {
                    var allowed = string.Join(", ", known.Take(10)) + (known.Count > 10 ? $", … ({known.Count} in all)" : "");
                    problem = ($"'{Shorten(text)}' is not a known category ({allowed}).", "category");
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

    /// <summary>
    /// The string a model's input carries for a categorical value: <see cref="ToText(object?)"/>, or,
    /// where the model takes the feature as buckets (<see cref="IsBucketed"/> when it is trained,
    /// <see cref="OnnxModelContract.PiiBucketsMetadata"/> once it is exported), the value's bucket
    /// (<see cref="PiiBucket"/>), so that no model learns, and no artifact holds, a PII value. Every
    /// caller that trains or feeds a model (training, the parity check, the workers, batch scoring)
    /// goes through here.
    /// </summary>
    public static string ToText(object? value, bool bucketed)
    {
        var text = ToText(value);
        return bucketed && text.Length > 0 ? PiiBucket(text) : text;
    }

    /// <summary>Whether models take the feature's values as buckets (<see cref="PiiBucket"/>): PII categorical features.</summary>
    public static bool IsBucketed(FeatureDefinition feature) => feature.Pii && feature.Type == FeatureType.Categorical;

    /// <summary>How many buckets a PII categorical feature's values fall into.</summary>
    public const int PiiBuckets = 1024;

    /// <summary>
    /// The bucket a PII categorical value falls into: <c>pii-</c> and, in four digits, the first four
    /// bytes of the SHA-256 of its UTF-8, read as a big-endian unsigned integer, modulo
    /// <see cref="PiiBuckets"/>. A model learns what a bucket's values have in common, never a value;
    /// values that share a bucket are one category to it. Unkeyed, so anyone holding the artifact can
    /// feed it (the model's <c>flywheel.pii_buckets</c> metadata names the features to bucket).
    /// </summary>
    public static string PiiBucket(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        var bytes = length <= 1024 ? stackalloc byte[length] : new byte[length];
        var written = Encoding.UTF8.GetBytes(value, bytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..written], hash);
        var bucket = BinaryPrimitives.ReadUInt32BigEndian(hash) % PiiBuckets;
        return BucketNames[bucket];
    }

    private static readonly string[] BucketNames = [.. Enumerable.Range(0, PiiBuckets).Select(b => "pii-" + b.ToString("D4", CultureInfo.InvariantCulture))];

    /// <summary>What a number past <see cref="FitsFloat"/> is told.</summary>
    public const string OutsideFloat = "is outside what a model's 32-bit float inputs hold (±3.4E+38).";

    /// <summary>
    /// Models compute in 32-bit floats: a larger magnitude would reach them as infinity, so it is
    /// refused as out of range wherever a numeric value comes in (ingestion, predict, infer).
    /// </summary>
    public static bool FitsFloat(double number) => Math.Abs(number) <= float.MaxValue;

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
