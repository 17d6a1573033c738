using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Flywheel.Core.Snapshots;

/// <summary>
/// The content hash of a training snapshot: SHA-256 over a canonical encoding of its rows, in
/// their snapshot order. Each row is one line of JSON with keys in ordinal order, numbers in
/// round-trip invariant form and times in UTC ISO-8601, so the same rows always hash the same
/// whatever store, culture or JSON key order they came from, and any change to a value, the
/// order or the number of rows changes the hash.
/// </summary>
public sealed class SnapshotHash : IDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long Rows { get; private set; }

    public void Add(DateTimeOffset? eventTime, IReadOnlyDictionary<string, object?> features, object? target)
    {
        ArgumentNullException.ThrowIfNull(features);
        _hash.AppendData(Encode(eventTime, features, target));
        _hash.AppendData(NewLine);
        Rows++;
    }

    /// <summary>Lower-case hex SHA-256 of every row added so far.</summary>
    public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public static byte[] Encode(DateTimeOffset? eventTime, IReadOnlyDictionary<string, object?> features, object? target)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WritePropertyName("event_time");
            if (eventTime is { } time)
            {
                json.WriteStringValue(time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
            }
            else
            {
                json.WriteNullValue();
            }

            json.WritePropertyName("features");
            json.WriteStartObject();
            foreach (var (name, value) in features.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                json.WritePropertyName(name);
                WriteValue(json, value);
            }

            json.WriteEndObject();
            json.WritePropertyName("target");
            WriteValue(json, target);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case bool flag:
                json.WriteBooleanValue(flag);
                break;
            case double number:
                // Round-trip text, not the writer's own formatting: it is the canonical form.
                json.WriteRawValue(number.ToString("R", CultureInfo.InvariantCulture), skipInputValidation: false);
                break;
            case string text:
                json.WriteStringValue(text);
                break;
            default:
                throw new ArgumentException($"A snapshot value must be null, a boolean, a number or a string, not {value.GetType().Name}.", nameof(value));
        }
    }

    public void Dispose() => _hash.Dispose();
}
