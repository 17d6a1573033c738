using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Flywheel.Core.Schema;

namespace Flywheel.Core.Serving;

/// <summary>
/// What of a request may be written to the prediction log: PII features are replaced by an
/// HMAC-SHA256, under the platform's PII key, of the model, feature and value ("hmac-sha256:" +
/// hex), so equal values still join (for feedback and drift counts) but the value itself is never
/// stored. Keyed, so that whoever reads the log (a viewer key, the console, the database) cannot
/// recover a low-entropy value (a phone number, a birth date) by hashing candidates: that takes
/// the key, which only the inference workers hold. Pseudonymisation, not anonymisation: the same
/// value under the same key always gives the same pseudonym.
/// </summary>
public sealed class PiiRedaction
{
    public const string HashPrefix = "hmac-sha256:";

    /// <summary>The fewest characters a PII key may have (256 bits as hex is 64).</summary>
    public const int MinKeyLength = 32;

    private readonly byte[] _key;

    public PiiRedaction(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Trim().Length < MinKeyLength)
        {
            throw new ArgumentException($"The PII key must have at least {MinKeyLength} characters.", nameof(key));
        }

        _key = Encoding.UTF8.GetBytes(key.Trim());
    }

    public IReadOnlyDictionary<string, object?> Redact(ModelSchema schema, IReadOnlyDictionary<string, object?> features)
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

    public string Hash(string model, string feature, object value)
    {
        var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
        var digest = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{model}\n{feature}\n{text}"));
        return HashPrefix + Convert.ToHexStringLower(digest);
    }
}
