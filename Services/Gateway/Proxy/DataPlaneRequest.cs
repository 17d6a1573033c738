using System.Buffers.Text;
using System.Text;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Serving;

namespace Flywheel.Gateway.Proxy;

/// <summary>What <see cref="DataPlaneRequest.TryParse"/> made of the bytes a connection has sent.</summary>
internal enum HeadParse
{
    /// <summary>It may be a request the fast path takes, but its head has not all arrived.</summary>
    Incomplete,

    /// <summary>A request the fast path takes: its head is parsed.</summary>
    Parsed,

    /// <summary>Anything else: ASP.NET Core's pipeline gets the connection, from this request on.</summary>
    NotTaken,
}

/// <summary>
/// The head of a predict or infer call as the data-plane fast path reads it off the connection
/// (<see cref="DataPlaneConnections"/>). It takes only the plainest form of such a call, which every
/// HTTP/1.1 parser reads the same way: <c>POST</c> to <c>/v1/models/{model}:predict</c> or
/// <c>/v2/models/{model}/infer</c> with no query, escapes or dot segments, over HTTP/1.1, with one
/// <c>Host</c>, one <c>Content-Length</c> within the body limit, header lines of visible ASCII ended by
/// CRLF, and no header that changes how the message is framed or kept (<c>Transfer-Encoding</c>,
/// <c>Expect</c>, <c>Upgrade</c>, <c>Connection</c> other than <c>keep-alive</c>) or how it is traced
/// (a sampled or malformed <c>traceparent</c>, <c>tracestate</c>, <c>baggage</c>). A client's
/// <c>X-Forwarded-Host</c> is dropped as the direct path drops it (ASP.NET Core's forwarded headers
/// do not read it either). Anything else is not
/// taken, and Kestrel and the pipeline answer it as they always have: a request the fast path is
/// unsure of is never its to refuse.
/// </summary>
internal sealed class DataPlaneRequest
{
    /// <summary>Largest head the fast path reads; a larger one is left to Kestrel (which allows 32 KB).</summary>
    public const int MaxHeadBytes = 8 * 1024;

    /// <summary>Most header lines the fast path reads (Kestrel allows 100).</summary>
    public const int MaxHeaders = 64;

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    private static ReadOnlySpan<byte> LineEnd => "\r\n"u8;

    private static ReadOnlySpan<byte> Version => " HTTP/1.1"u8;

    /// <summary>Headers that end the fast path for the connection: they change framing, the connection, or tracing.</summary>
    private static readonly HashSet<string> NotTakenHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Transfer-Encoding", "Expect", "Upgrade", "TE", "Trailer", "Keep-Alive", "Proxy-Connection", "HTTP2-Settings",
        "tracestate", "baggage", "Request-Id", "Correlation-Context",
    };

    private DataPlaneRequest(string target, ServingPath serving, int headLength)
    {
        Target = target;
        Serving = serving;
        HeadLength = headLength;
    }

    /// <summary>The path, exactly as sent (it needs no escaping).</summary>
    public string Target { get; }

    public ServingPath Serving { get; }

    /// <summary>Bytes of the request line and headers, the blank line included.</summary>
    public int HeadLength { get; }

    public int ContentLength { get; private set; }

    /// <summary>The request's headers as they came, in order, values trimmed.</summary>
    public List<KeyValuePair<string, string>> Headers { get; } = new(12);

    public string Host { get; private set; } = "";

    public string? ContentType { get; private set; }

    /// <summary>The API key, read as <c>ApiKeyStore.Presented</c> reads it.</summary>
    public string? PresentedKey { get; private set; }

    /// <summary>An unsampled caller's <c>traceparent</c>, passed on as it came; null when there was none.</summary>
    public string? TraceParent { get; private set; }

    public string? ForwardedFor { get; private set; }

    public string? ForwardedProto { get; private set; }

    /// <summary>
    /// Reads a request head from the start of <paramref name="bytes"/>. <see cref="HeadParse.Parsed"/>
    /// with the request when the fast path takes it; <see cref="HeadParse.Incomplete"/> while what has
    /// arrived could still be such a request.
    /// </summary>
    public static HeadParse TryParse(ReadOnlySpan<byte> bytes, long maxBodyBytes, out DataPlaneRequest? request)
    {
        request = null;
        // The method and the start of the path decide early: anything else is not read further.
        ReadOnlySpan<byte> v1 = "POST /v1/models/"u8;
        ReadOnlySpan<byte> v2 = "POST /v2/models/"u8;
        var prefix = bytes[..Math.Min(bytes.Length, v1.Length)];
        if (!v1.StartsWith(prefix) && !v2.StartsWith(prefix))
        {
            return HeadParse.NotTaken;
        }

        var end = bytes.IndexOf(HeadEnd);
        if (end < 0)
        {
            // A line ended by a bare LF (or a CR alone) is Kestrel's to read or refuse; waiting for a CRLF that may never come is not.
            return bytes.Length >= MaxHeadBytes || HasBareLineBreak(bytes) ? HeadParse.NotTaken : HeadParse.Incomplete;
        }

        if (HasBareLineBreak(bytes[..(end + HeadEnd.Length)]))
        {
            return HeadParse.NotTaken;
        }

        var headLength = end + HeadEnd.Length;
        if (headLength > MaxHeadBytes)
        {
            return HeadParse.NotTaken;
        }

        var lines = bytes[..(end + LineEnd.Length)];
        var lineEnd = lines.IndexOf(LineEnd);
        var requestLine = lines[..lineEnd];
        lines = lines[(lineEnd + LineEnd.Length)..];
        if (!requestLine.EndsWith(Version))
        {
            return HeadParse.NotTaken;
        }

        var targetBytes = requestLine["POST ".Length..^Version.Length];
        if (!IsPlainPath(targetBytes))
        {
            return HeadParse.NotTaken;
        }

        var target = Encoding.ASCII.GetString(targetBytes);
        var serving = ServingPath.Parse(target);
        if (!serving.IsSplit)
        {
            return HeadParse.NotTaken;
        }

        var parsed = new DataPlaneRequest(target, serving, headLength);
        long? contentLength = null;
        var hosts = 0;
        var apiKeys = 0;
        string? apiKey = null;
        string? authorization = null;
        while (!lines.IsEmpty)
        {
            lineEnd = lines.IndexOf(LineEnd);
            var line = lines[..lineEnd];
            lines = lines[(lineEnd + LineEnd.Length)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !Http1.IsToken(line[..colon]))
            {
                // Also a folded line (starting with a space) and whitespace before the colon.
                return HeadParse.NotTaken;
            }

            var rawValue = line[(colon + 1)..].Trim(" \t"u8);
            if (!Http1.IsFieldValue(rawValue) || parsed.Headers.Count == MaxHeaders)
            {
                return HeadParse.NotTaken;
            }

            var name = Encoding.ASCII.GetString(line[..colon]);
            var value = Encoding.ASCII.GetString(rawValue);
            if (NotTakenHeaders.Contains(name))
            {
                return HeadParse.NotTaken;
            }

            if (Is(name, "Content-Length"))
            {
                // Digits only: no sign, no space, no second value.
                if (contentLength is not null || rawValue.IsEmpty || rawValue.Length > 18 || rawValue.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0 ||
                    !Utf8Parser.TryParse(rawValue, out long length, out var used) || used != rawValue.Length)
                {
                    return HeadParse.NotTaken;
                }

                contentLength = length;
            }
            else if (Is(name, "Host"))
            {
                if (++hosts > 1 || !IsPlainHost(rawValue))
                {
                    return HeadParse.NotTaken;
                }

                parsed.Host = value;
            }
            else if (Is(name, "Connection"))
            {
                if (!Is(value, "keep-alive"))
                {
                    return HeadParse.NotTaken;
                }
            }
            else if (Is(name, "Content-Type"))
            {
                if (parsed.ContentType is not null)
                {
                    return HeadParse.NotTaken;
                }

                parsed.ContentType = value;
            }
            else if (Is(name, "X-Api-Key"))
            {
                apiKeys++;
                apiKey = value;
            }
            else if (Is(name, "Authorization"))
            {
                if (authorization is not null)
                {
                    return HeadParse.NotTaken;
                }

                authorization = value;
            }
            else if (Is(name, "traceparent"))
            {
                // Only an unsampled caller's trace context is passed on; a sampled one is traced by the pipeline.
                if (parsed.TraceParent is not null || !IsUnsampledTraceParent(value))
                {
                    return HeadParse.NotTaken;
                }

                parsed.TraceParent = value;
            }
            else if (Is(name, "X-Forwarded-For"))
            {
                if (parsed.ForwardedFor is not null)
                {
                    return HeadParse.NotTaken;
                }

                parsed.ForwardedFor = value;
            }
            else if (Is(name, "X-Forwarded-Proto"))
            {
                if (parsed.ForwardedProto is not null)
                {
                    return HeadParse.NotTaken;
                }

                parsed.ForwardedProto = value;
            }

            parsed.Headers.Add(new(name, value));
        }

        if (hosts != 1 || contentLength is not { } bodyLength || bodyLength > maxBodyBytes || bodyLength > int.MaxValue - MaxHeadBytes)
        {
            return HeadParse.NotTaken;
        }

        // As ApiKeyStore.Presented: one non-empty X-Api-Key, else a bearer token.
        if (apiKeys > 1)
        {
            return HeadParse.NotTaken;
        }

        parsed.PresentedKey = Flywheel.Security.ApiKeyStore.Presented(apiKeys == 1 ? apiKey : null, authorization);
        parsed.ContentLength = (int)bodyLength;
        request = parsed;
        return HeadParse.Parsed;
    }

    /// <summary>Whether a line break in the bytes is not a CRLF: an LF without a CR before it, or a CR followed by anything but an LF.</summary>
    private static bool HasBareLineBreak(ReadOnlySpan<byte> bytes)
    {
        for (var i = bytes.IndexOfAny((byte)'\r', (byte)'\n'); i >= 0; )
        {
            if (bytes[i] == (byte)'\n' ? i == 0 || bytes[i - 1] != (byte)'\r' : i + 1 < bytes.Length && bytes[i + 1] != (byte)'\n')
            {
                return true;
            }

            var next = bytes[(i + 1)..].IndexOfAny((byte)'\r', (byte)'\n');
            i = next < 0 ? -1 : i + 1 + next;
        }

        return false;
    }

    /// <summary>The first non-empty value of a header, as <c>request.Headers[name]</c> would give it.</summary>
    public string? Header(string name)
    {
        foreach (var (header, value) in Headers)
        {
            if (Is(header, name) && value.Length > 0)
            {
                return value;
            }
        }

        return null;
    }

    private static bool Is(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A path of non-empty segments of unreserved characters, sub-delimiters, ':' and '@' (RFC 3986
    /// pchar without escapes), none of them "." or "..": Kestrel hands it to the application as it
    /// is, and escapes nothing in it when it is forwarded.
    /// </summary>
    internal static bool IsPlainPath(ReadOnlySpan<byte> path)
    {
        if (path.IsEmpty || path[0] != (byte)'/' || path.Length > 2048)
        {
            return false;
        }

        var segmentStart = 1;
        for (var i = 1; i <= path.Length; i++)
        {
            if (i == path.Length || path[i] == (byte)'/')
            {
                var segment = path[segmentStart..i];
                if (segment.IsEmpty || segment.SequenceEqual("."u8) || segment.SequenceEqual(".."u8))
                {
                    return false;
                }

                segmentStart = i + 1;
                continue;
            }

            var c = path[i];
            var allowed = c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' ||
                "-._~!$&'()*+,;=:@"u8.Contains(c);
            if (!allowed)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A host name or IPv4 address with an optional port, or a bracketed IPv6 address with one.</summary>
    internal static bool IsPlainHost(ReadOnlySpan<byte> host)
    {
        if (host.IsEmpty || host.Length > 255)
        {
            return false;
        }

        foreach (var c in host)
        {
            if (!(c is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' ||
                  c is (byte)'.' or (byte)'-' or (byte)':' or (byte)'[' or (byte)']'))
            {
                return false;
            }
        }

        return Uri.CheckHostName(Encoding.ASCII.GetString(HostPart(host))) != UriHostNameType.Unknown;
    }

    private static ReadOnlySpan<byte> HostPart(ReadOnlySpan<byte> host)
    {
        if (host[0] == (byte)'[')
        {
            var close = host.IndexOf((byte)']');
            return close < 0 || (close + 1 < host.Length && (host[close + 1] != (byte)':' || !IsPort(host[(close + 2)..]))) ? [] : host[1..close];
        }

        var colon = host.IndexOf((byte)':');
        return colon < 0 ? host : IsPort(host[(colon + 1)..]) ? host[..colon] : [];
    }

    private static bool IsPort(ReadOnlySpan<byte> port) =>
        port.Length is > 0 and <= 5 && Utf8Parser.TryParse(port, out int value, out var used) && used == port.Length && value <= 65535 &&
        port.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;

    /// <summary><c>00-{32 hex}-{16 hex}-00</c> with ids that are not all zeros (W3C Trace Context, version 00, not sampled).</summary>
    internal static bool IsUnsampledTraceParent(string value)
    {
        if (value.Length != 55 || !value.StartsWith("00-", StringComparison.Ordinal) || value[35] != '-' || value[52] != '-' || !value.EndsWith("-00", StringComparison.Ordinal))
        {
            return false;
        }

        var traceId = value.AsSpan(3, 32);
        var spanId = value.AsSpan(36, 16);
        return IsLowerHex(traceId) && IsLowerHex(spanId) && traceId.ContainsAnyExcept('0') && spanId.ContainsAnyExcept('0');
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is not (>= '0' and <= '9' or >= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Serving headers a client sends are not forwarded: the gateway sets its own (as the admission middleware does).</summary>
    public static bool IsServingHeader(string name)
    {
        foreach (var serving in ServingHeaders.All)
        {
            if (Is(name, serving))
            {
                return true;
            }
        }

        return false;
    }
}
