using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Flywheel.Core.Serving;

/// <summary>Where a deployment's sticky assignment key comes from (<c>registry.deployments.sticky_by</c>).</summary>
public readonly record struct StickySource(StickyKind Kind, string? Header)
{
    public const string EntityId = "entity_id";
    public const string HeaderPrefix = "header:";

    public static StickySource None { get; } = new(StickyKind.None, null);

    /// <summary><c>entity_id</c>, <c>header:&lt;Name&gt;</c> or nothing; anything else is treated as no stickiness.</summary>
    public static StickySource Parse(string? stickyBy) => stickyBy switch
    {
        EntityId => new(StickyKind.EntityId, null),
        { Length: > 7 } value when value.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase)
            && value[HeaderPrefix.Length..].Trim() is { Length: > 0 } name => new(StickyKind.Header, name),
        _ => None,
    };
}

public enum StickyKind
{
    None,
    EntityId,
    Header,
}

/// <summary>
/// Which version of a deployment answers a request. A canary takes <c>percent</c>% of requests;
/// with a sticky key the choice is a deterministic hash of (model, canary version, key) into
/// [0, 100), so one entity always lands on the same side for the life of that canary (any
/// replica, any restart) and a new canary version re-shuffles who gets it. Without a key each
/// request is drawn afresh.
/// </summary>
public static class TrafficSplit
{
    /// <summary>The version that serves: the canary when the request's point in [0, 100) falls under its percent, else production.</summary>
    /// <param name="draw">A uniform random number in [0, 1), used only when there is no sticky key.</param>
    public static int Assign(string model, int production, int? canaryVersion, double canaryPercent, string? stickyKey, double draw)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (canaryVersion is not { } canary || !(canaryPercent > 0))
        {
            return production;
        }

        var point = stickyKey is null ? Math.Clamp(draw, 0, Math.BitDecrement(1.0)) * 100 : Bucket(model, canary, stickyKey);
        return point < canaryPercent ? canary : production;
    }

    /// <summary>
    /// The key's fixed point in [0, 100) for this model's canary version: the first 8 bytes of
    /// SHA-256 over the three values (length-prefixed, so no two triples share an encoding) as a
    /// fraction of 2^64. Stable across processes, unlike <see cref="string.GetHashCode()"/>.
    /// </summary>
    public static double Bucket(string model, int canaryVersion, string stickyKey)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stickyKey);
        var text = $"{model.Length}:{model}|{canaryVersion}|{stickyKey.Length}:{stickyKey}";
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        // 53 bits fill a double's mantissa exactly, so the result is < 100 and uniform.
        var bits = BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11;
        return bits * (100.0 / (1UL << 53));
    }

    /// <summary>Whether a request is mirrored to the shadow: <paramref name="draw"/> in [0, 1) under <paramref name="percent"/>%.</summary>
    public static bool Mirror(double percent, double draw) => draw * 100 < percent;

    /// <summary>
    /// The first instance's <c>entity_id</c> in a predict body: <c>{"instances":[{"entity_id":"c-1",...}]}</c>
    /// (KServe V1) or the first element of an input tensor named <c>entity_id</c> in
    /// <c>{"inputs":[{"name":"entity_id","data":["c-1"]}]}</c> (Open Inference Protocol). Numbers
    /// count as their JSON text. Null when there is none or the body is not JSON; the worker
    /// reports a malformed body itself.
    /// </summary>
    public static string? FirstEntityId(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("instances"u8))
                {
                    return FirstInstanceEntityId(ref reader);
                }

                if (reader.ValueTextEquals("inputs"u8))
                {
                    return EntityTensorFirstValue(ref reader);
                }

                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    private static string? FirstInstanceEntityId(ref Utf8JsonReader reader)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray || !reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isEntity = reader.ValueTextEquals(StickySource.EntityId);
            reader.Read();
            if (isEntity)
            {
                return Scalar(ref reader);
            }

            reader.Skip();
        }

        return null;
    }

    private static string? EntityTensorFirstValue(ref Utf8JsonReader reader)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return null;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            // A tensor's fields come in any order: remember its data until its name is known.
            string? name = null;
            string? first = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("name"u8))
                {
                    reader.Read();
                    name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    first = FirstLeaf(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (name == StickySource.EntityId)
            {
                return first;
            }
        }

        return null;
    }

    /// <summary>The first scalar of a (possibly nested) array, leaving the reader after the whole value.</summary>
    private static string? FirstLeaf(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return Scalar(ref reader);
        }

        var depth = reader.CurrentDepth;
        string? first = null;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth))
        {
            if (first is null && reader.TokenType is JsonTokenType.String or JsonTokenType.Number)
            {
                first = Scalar(ref reader);
            }
        }

        return first;
    }

    private static string? Scalar(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Number:
                return reader.HasValueSequence ? Encoding.UTF8.GetString(reader.ValueSequence) : Encoding.UTF8.GetString(reader.ValueSpan);
            default:
                reader.Skip();
                return null;
        }
    }
}
