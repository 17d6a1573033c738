using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Flywheel.Gateway.Proxy;

/// <summary>The parts of an HTTP/1.1 response the direct forwarder needs: its status, headers and how its body is framed.</summary>
internal sealed record ResponseHead(int Status, IReadOnlyList<KeyValuePair<string, string>> Headers, long? ContentLength, bool Chunked, bool KeepAlive)
{
    /// <summary>Whether a body follows the head at all (RFC 9112 6.3: never for 1xx, 204 and 304).</summary>
    public bool HasBody => Status is not (< 200 or 204 or 304);
}

/// <summary>A worker's answer that is not HTTP/1.1 as the direct forwarder reads it.</summary>
internal sealed class WorkerProtocolException(string message) : Exception(message);

/// <summary>
/// Writing an HTTP/1.1 request and reading its response, for <see cref="DirectForwarder"/>: pure
/// functions over bytes, so every framing rule is tested without a socket.
/// </summary>
internal static class Http1
{
    /// <summary>Largest response head the forwarder reads; a worker's is a few hundred bytes.</summary>
    public const int MaxHeadBytes = 16 * 1024;

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    private static ReadOnlySpan<byte> LineEnd => "\r\n"u8;

    /// <summary>
    /// Parses a response head at the start of <paramref name="bytes"/>. False when they do not yet
    /// hold the whole head; <see cref="WorkerProtocolException"/> when it is malformed.
    /// </summary>
    public static bool TryParseHead(ReadOnlySpan<byte> bytes, out ResponseHead? head, out int consumed)
    {
        head = null;
        consumed = 0;
        var end = bytes.IndexOf(HeadEnd);
        if (end < 0)
        {
            if (bytes.Length >= MaxHeadBytes)
            {
                throw new WorkerProtocolException($"The response head is larger than {MaxHeadBytes} bytes.");
            }

            return false;
        }

        if (end + HeadEnd.Length > MaxHeadBytes)
        {
            throw new WorkerProtocolException($"The response head is larger than {MaxHeadBytes} bytes.");
        }

        var lines = bytes[..(end + LineEnd.Length)];
        var statusEnd = lines.IndexOf(LineEnd);
        var status = ParseStatusLine(lines[..statusEnd], out var http10);
        lines = lines[(statusEnd + LineEnd.Length)..];

        var headers = new List<KeyValuePair<string, string>>(8);
        long? contentLength = null;
        var chunked = false;
        var keepAlive = !http10;
        while (!lines.IsEmpty)
        {
            var lineEnd = lines.IndexOf(LineEnd);
            var line = lines[..lineEnd];
            lines = lines[(lineEnd + LineEnd.Length)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[0] is (byte)' ' or (byte)'\t' || line[..colon].IndexOfAny((byte)' ', (byte)'\t') >= 0)
            {
                throw new WorkerProtocolException("A response header line is malformed.");
            }

            var rawValue = line[(colon + 1)..].Trim(" \t"u8);
            if (!IsToken(line[..colon]) || !IsFieldValue(rawValue))
            {
                // Kestrel would refuse to pass such a header on to the caller.
                throw new WorkerProtocolException("A response header has a name or value that is not visible ASCII.");
            }

            var name = Encoding.ASCII.GetString(line[..colon]);
            var value = Encoding.ASCII.GetString(rawValue);
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length) ||
                    (contentLength is { } earlier && earlier != length))
                {
                    throw new WorkerProtocolException("The response's Content-Length is not one non-negative number.");
                }

                contentLength = length;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                // Only chunked is decoded; a body in another coding would reach the caller still coded, without the header that says so.
                if (value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) is not [var coding] ||
                    !coding.Equals("chunked", StringComparison.OrdinalIgnoreCase) || chunked)
                {
                    throw new WorkerProtocolException($"The response's transfer coding '{value}' is not chunked alone.");
                }

                chunked = true;
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                if (HasToken(value, "close"))
                {
                    keepAlive = false;
                }
                else if (http10 && HasToken(value, "keep-alive"))
                {
                    keepAlive = true;
                }
            }

            headers.Add(new(name, value));
        }

        // A Transfer-Encoding overrides a Content-Length, and the connection is closed after such a
        // message (RFC 9112 6.3): the two could be read differently by something in between.
        if (chunked && contentLength is not null)
        {
            keepAlive = false;
        }

        head = new ResponseHead(status, headers, chunked ? null : contentLength, chunked, keepAlive);
        if (head.HasBody && !chunked && contentLength is null)
        {
            // Delimited by the end of the connection.
            head = head with { KeepAlive = false };
        }

        consumed = end + HeadEnd.Length;
        return true;
    }

    /// <summary>
    /// Parses a chunk's size line (extensions ignored). False when the line is not complete yet;
    /// <see cref="WorkerProtocolException"/> when it is not a hexadecimal size.
    /// </summary>
    public static bool TryParseChunkSize(ReadOnlySpan<byte> bytes, out long size, out int consumed)
    {
        size = 0;
        consumed = 0;
        var end = bytes.IndexOf(LineEnd);
        if (end < 0)
        {
            if (bytes.Length > 1024)
            {
                throw new WorkerProtocolException("A chunk size line is longer than 1024 bytes.");
            }

            return false;
        }

        var line = bytes[..end];
        var extension = line.IndexOf((byte)';');
        var digits = (extension >= 0 ? line[..extension] : line).Trim(" \t"u8);
        if (digits.IsEmpty || digits.Length > 15 || !Utf8Parser.TryParse(digits, out size, out var used, 'x') || used != digits.Length)
        {
            throw new WorkerProtocolException("A chunk size is not a hexadecimal number.");
        }

        consumed = end + LineEnd.Length;
        return true;
    }

    /// <summary>The end of a chunked body's trailer section: true with the bytes it took, once the empty line is there.</summary>
    public static bool TryConsumeTrailers(ReadOnlySpan<byte> bytes, out int consumed)
    {
        consumed = 0;
        var position = 0;
        while (true)
        {
            var end = bytes[position..].IndexOf(LineEnd);
            if (end < 0)
            {
                if (bytes.Length > MaxHeadBytes)
                {
                    throw new WorkerProtocolException($"The response trailers are larger than {MaxHeadBytes} bytes.");
                }

                return false;
            }

            position += end + LineEnd.Length;
            if (end == 0)
            {
                consumed = position;
                return true;
            }
        }
    }

    /// <summary>A header name: one or more token characters (RFC 9110 5.6.2).</summary>
    public static bool IsToken(ReadOnlySpan<char> name)
    {
        foreach (var c in name)
        {
            if (!IsTokenChar(c))
            {
                return false;
            }
        }

        return !name.IsEmpty;
    }

    public static bool IsToken(ReadOnlySpan<byte> name)
    {
        foreach (var b in name)
        {
            if (!IsTokenChar(b))
            {
                return false;
            }
        }

        return !name.IsEmpty;
    }

    private static bool IsTokenChar(int c) => c > ' ' && c < 0x7F && "\"(),/:;<=>?@[\\]{}".IndexOf((char)c, StringComparison.Ordinal) < 0;

    /// <summary>A header value of visible ASCII, spaces and tabs: what Kestrel passes on without an encoding of its own.</summary>
    public static bool IsFieldValue(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if ((c < ' ' && c != '\t') || c >= 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsFieldValue(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if ((b < ' ' && b != '\t') || b >= 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A request target as it may stand in the request line: visible ASCII only (Kestrel gives the path and query escaped).</summary>
    public static bool IsRequestTarget(string target)
    {
        if (target.Length == 0)
        {
            return false;
        }

        foreach (var c in target)
        {
            if (c <= ' ' || c >= 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    private static int ParseStatusLine(ReadOnlySpan<byte> line, out bool http10)
    {
        // HTTP/1.1 200 OK
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[7] is not ((byte)'0' or (byte)'1') || line[8] != (byte)' ' ||
            !Utf8Parser.TryParse(line.Slice(9, 3), out int status, out var used) || used != 3 || status < 100 || (line.Length > 12 && line[12] != (byte)' '))
        {
            throw new WorkerProtocolException("The response does not start with an HTTP/1.x status line.");
        }

        http10 = line[7] == (byte)'0';
        return status;
    }

    private static bool HasToken(string value, string token)
    {
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// An HTTP/1.1 request's bytes in a pooled buffer: the head, then the body, for one send. A header
/// name that is not a token, or a value with a line break, another control character or anything
/// beyond ASCII, is refused (<see cref="TryHeader"/> is false): no value can add a header or end
/// the head early, and the worker reads every byte as it was meant.
/// </summary>
internal sealed class RequestBytes : IDisposable
{
    private byte[] _buffer;
    private int _length;

    public RequestBytes(int sizeHint) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(sizeHint, 1024));

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>The request line; the target must pass <see cref="Http1.IsRequestTarget"/>.</summary>
    public void RequestLine(string method, string pathAndQuery)
    {
        Ascii(method);
        Ascii(" ");
        Ascii(pathAndQuery);
        Ascii(" HTTP/1.1\r\n");
    }

    /// <summary>Adds one header line; false (and nothing written) when the name or value could break the head.</summary>
    public bool TryHeader(string name, string? value)
    {
        value ??= "";
        if (!CanWrite(name, value))
        {
            return false;
        }

        Ascii(name);
        Ascii(": ");
        Ascii(value);
        Ascii("\r\n");
        return true;
    }

    /// <summary>Whether the header can be written without changing the head's structure.</summary>
    public static bool CanWrite(string name, string? value) => Http1.IsToken(name) && Http1.IsFieldValue(value ?? "");

    public void EndHead() => Ascii("\r\n");

    /// <summary>The destination as the request's host.</summary>
    public void Host(System.Net.DnsEndPoint endpoint) =>
        TryHeader("Host", endpoint.Port == 80 ? endpoint.Host : $"{endpoint.Host}:{endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}");

    /// <summary>Where the caller reached the gateway, as YARP writes it: its address, scheme and host.</summary>
    public void Forwarded(System.Net.IPAddress? caller, string scheme, string? host)
    {
        if (caller is not null)
        {
            TryHeader("X-Forwarded-For", caller.IsIPv4MappedToIPv6 ? caller.MapToIPv4().ToString() : caller.ToString());
        }

        TryHeader("X-Forwarded-Proto", scheme);
        if (!string.IsNullOrEmpty(host))
        {
            TryHeader("X-Forwarded-Host", host);
        }
    }

    /// <summary>The activity's trace context, then the body's length, the end of the head and the body.</summary>
    public void TraceAndBody(System.Diagnostics.Activity? activity, ReadOnlySpan<byte> body)
    {
        if (activity is not null)
        {
            System.Diagnostics.DistributedContextPropagator.Current.Inject(activity, this, static (carrier, name, value) => ((RequestBytes)carrier!).TryHeader(name, value));
        }

        TryHeader("Content-Length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        EndHead();
        Body(body);
    }

    public void Body(ReadOnlySpan<byte> body)
    {
        Reserve(body.Length);
        body.CopyTo(_buffer.AsSpan(_length));
        _length += body.Length;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Ascii(string text)
    {
        Reserve(text.Length);
        _length += Encoding.ASCII.GetBytes(text, _buffer.AsSpan(_length));
    }

    private void Reserve(int count)
    {
        if (_length + count <= _buffer.Length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + count));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
