using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>
/// What of a request may be written to the prediction log: PII features are replaced by a
/// SHA-256 of the model, feature and value ("sha256:" + hex), so equal values still join (for
/// feedback and drift counts) but the value itself is never stored. This is pseudonymisation,
/// not anonymisation: low-entropy values can be guessed by hashing candidates.
/// </summary>
public static class PiiRedaction
{
    public const string HashPrefix = "sha256:";

    public static IReadOnlyDictionary<string, object?> Redact(ModelSchema schema, IReadOnlyDictionary<string, object?> features)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(features);
        if (!schema.Features.Any(f => f.Pii))
        {
            return features;
        }

        var redacted = new Dictionary<string, object?>(features, StringComparer.Ordinal);
        foreach (var feature in schema.Features.Where(f => f.Pii))
        {
            if (redacted.TryGetValue(feature.Name, out var value) && value is not null)
            {
                redacted[feature.Name] = Hash(schema.Name, feature.Name, value);
            }
        }

        return redacted;
    }

    public static string Hash(string model, string feature, object value)
    {
        var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{model}\n{feature}\n{text}"));
        return HashPrefix + Convert.ToHexStringLower(digest);
    }
}
