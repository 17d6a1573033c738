using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Flywheel.Core.Serving;

/// <summary>
/// The prediction cache key of one row: the model, the version and the row's features in a
/// canonical text (names sorted ordinally, each value tagged with its type and written
/// invariantly, so 1 and "1" and true never collide), hashed with SHA-256. The same features in
/// any order, culture or JSON spelling give the same key; a new version never reads an old answer.
/// </summary>
public static class PredictionCacheKey
{
    public const string Prefix = "predcache:";

    public static string Compute(string model, int version, IReadOnlyDictionary<string, object?> features)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(features);
        return $"{Prefix}{model}:{version.ToString(CultureInfo.InvariantCulture)}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(features))))}";
    }

    public static string Canonical(IReadOnlyDictionary<string, object?> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var text = new StringBuilder();
        foreach (var (name, value) in features.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Append(name.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(name).Append('=');
            switch (value)
            {
                case null:
                    text.Append("null");
                    break;
                case bool flag:
                    text.Append(flag ? "b:true" : "b:false");
                    break;
                case double number:
                    text.Append("n:").Append(number.ToString("R", CultureInfo.InvariantCulture));
                    break;
                case float number:
                    text.Append("n:").Append(((double)number).ToString("R", CultureInfo.InvariantCulture));
                    break;
                case string category:
                    text.Append("s:").Append(category.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(category);
                    break;
                default:
                    throw new ArgumentException($"The feature '{name}' holds a {value.GetType().Name}, not a served value.", nameof(features));
            }

            text.Append('\n');
        }

        return text.ToString();
    }
}
