using System.Text;
using Flywheel.Gateway.Proxy;

namespace Flywheel.Platform.Tests;

/// <summary>The direct forwarder's HTTP/1.1 framing: response heads, chunk sizes, trailers and the request it writes.</summary>
public sealed class Http1Tests
{
    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    [Fact]
    public void A_head_with_a_content_length_is_parsed_and_kept_alive()
    {
        var bytes = Bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nX-Flywheel-Model-Version:  3 \r\n\r\n{\"predictions\":1}");

        Assert.True(Http1.TryParseHead(bytes, out var head, out var consumed));

        Assert.Equal(200, head!.Status);
        Assert.Equal(17, head.ContentLength);
        Assert.False(head.Chunked);
        Assert.True(head.KeepAlive);
        Assert.True(head.HasBody);
        Assert.Equal("{\"predictions\":1}", Encoding.ASCII.GetString(bytes, consumed, bytes.Length - consumed));
        Assert.Contains(new KeyValuePair<string, string>("X-Flywheel-Model-Version", "3"), head.Headers);
        Assert.Contains(new KeyValuePair<string, string>("Content-Type", "application/json"), head.Headers);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n")]
    [InlineData("HTTP/1.1 2")]
    [InlineData("")]
    public void An_incomplete_head_asks_for_more_bytes(string text)
    {
        Assert.False(Http1.TryParseHead(Bytes(text), out var head, out var consumed));
        Assert.Null(head);
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void Chunked_framing_wins_over_a_content_length_and_the_connection_is_not_reused_after_it()
    {
        Assert.True(Http1.TryParseHead(Bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), out var head, out _));

        Assert.True(head!.Chunked);
        Assert.Null(head.ContentLength);
        Assert.False(head.KeepAlive);

        Assert.True(Http1.TryParseHead(Bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"), out var alone, out _));
        Assert.True(alone!.Chunked);
        Assert.True(alone.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, Upgrade\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\n", true)]
    // Neither a length nor chunks: the body ends with the connection.
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", false)]
    // No body at all: the connection stays usable without a length.
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", true)]
    [InlineData("HTTP/1.1 304 Not Modified\r\n\r\n", true)]
    public void Whether_the_connection_can_carry_the_next_request_follows_the_version_connection_header_and_framing(string text, bool keepAlive)
    {
        Assert.True(Http1.TryParseHead(Bytes(text), out var head, out _));
        Assert.Equal(keepAlive, head!.KeepAlive);
    }

    [Theory]
    [InlineData(100, false)]
    [InlineData(204, false)]
    [InlineData(304, false)]
    [InlineData(200, true)]
    [InlineData(400, true)]
    [InlineData(503, true)]
    public void Interim_no_content_and_not_modified_answers_have_no_body(int status, bool hasBody) =>
        Assert.Equal(hasBody, new ResponseHead(status, [], null, false, true).HasBody);

    [Theory]
    [InlineData("HTTP/2 200\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("ICY 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n")]
    // Only chunked is decoded: a body in another coding would reach the caller still coded and unlabelled.
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")]
    // Kestrel would refuse to pass these on to the caller.
    [InlineData("HTTP/1.1 200 OK\r\nX-Name: caf\u00e9\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Name: a\u0001b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-N\u00e4me: a\r\n\r\n")]
    public void A_malformed_head_is_refused(string text) =>
        Assert.Throws<WorkerProtocolException>(() => Http1.TryParseHead(Bytes(text), out _, out _));

    [Fact]
    public void A_head_larger_than_the_limit_is_refused_whether_or_not_it_has_ended()
    {
        var unended = Bytes("HTTP/1.1 200 OK\r\nX-Big: " + new string('a', Http1.MaxHeadBytes));
        Assert.Throws<WorkerProtocolException>(() => Http1.TryParseHead(unended, out _, out _));

        var ended = Bytes("HTTP/1.1 200 OK\r\nX-Big: " + new string('a', Http1.MaxHeadBytes) + "\r\n\r\n");
        Assert.Throws<WorkerProtocolException>(() => Http1.TryParseHead(ended, out _, out _));
    }

    [Fact]
    public void Repeated_headers_are_all_kept_in_order()
    {
        Assert.True(Http1.TryParseHead(Bytes("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"), out var head, out _));

        Assert.Equal(new[] { "a=1", "b=2" }, head!.Headers.Where(h => h.Key == "Set-Cookie").Select(h => h.Value));
    }

    [Theory]
    [InlineData("1a\r\n", 26, 4)]
    [InlineData("0\r\n", 0, 3)]
    [InlineData("FF;name=value\r\n", 255, 15)]
    [InlineData("10 \r\nrest", 16, 5)]
    public void A_chunk_size_is_read_in_hexadecimal_without_its_extensions(string text, long size, int consumed)
    {
        Assert.True(Http1.TryParseChunkSize(Bytes(text), out var parsed, out var used));
        Assert.Equal(size, parsed);
        Assert.Equal(consumed, used);
    }

    [Theory]
    [InlineData("1a")]
    [InlineData("")]
    [InlineData("1a\r")]
    public void An_unfinished_chunk_size_line_asks_for_more_bytes(string text) =>
        Assert.False(Http1.TryParseChunkSize(Bytes(text), out _, out _));

    [Theory]
    [InlineData("xyz\r\n")]
    [InlineData("\r\n")]
    [InlineData("-1\r\n")]
    [InlineData("1000000000000000\r\n")]
    public void A_chunk_size_that_is_not_a_hexadecimal_number_is_refused(string text) =>
        Assert.Throws<WorkerProtocolException>(() => Http1.TryParseChunkSize(Bytes(text), out _, out _));

    [Fact]
    public void A_chunk_size_line_without_an_end_is_refused_after_1024_bytes() =>
        Assert.Throws<WorkerProtocolException>(() => Http1.TryParseChunkSize(Bytes(new string('1', 1025)), out _, out _));

    [Theory]
    [InlineData("\r\n", true, 2)]
    [InlineData("Expires: never\r\n\r\nnext", true, 18)]
    [InlineData("Expires: never\r\n", false, 0)]
    [InlineData("", false, 0)]
    public void The_trailer_section_ends_with_an_empty_line(string text, bool complete, int consumed)
    {
        Assert.Equal(complete, Http1.TryConsumeTrailers(Bytes(text), out var used));
        Assert.Equal(consumed, used);
    }

    [Fact]
    public void A_request_is_written_as_one_head_and_its_body()
    {
        using var request = new RequestBytes(16);
        request.RequestLine("POST", "/v1/models/fraud:predict?x=1");
        Assert.True(request.TryHeader("Host", "127.0.0.1:5000"));
        Assert.True(request.TryHeader("X-Flywheel-Caller", "fraud\tkey"));
        Assert.True(request.TryHeader("Content-Length", "2"));
        request.EndHead();
        request.Body("{}"u8);

        Assert.Equal(
            "POST /v1/models/fraud:predict?x=1 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nX-Flywheel-Caller: fraud\tkey\r\nContent-Length: 2\r\n\r\n{}",
            Encoding.Latin1.GetString(request.Written.Span));
    }

    [Theory]
    [InlineData("X-Evil", "a\r\nX-Injected: 1")]
    [InlineData("X-Evil", "a\nb")]
    [InlineData("X-Evil", "a\0b")]
    [InlineData("X-Evil", "snow \u2603")]
    // Beyond ASCII the worker's Kestrel would read the bytes differently (or refuse them): such a request goes through YARP.
    [InlineData("X-Evil", "caf\u00e9")]
    [InlineData("X-Evil", "a\u007fb")]
    [InlineData("X Evil", "a")]
    [InlineData("X-Evil:", "a")]
    [InlineData("", "a")]
    public void A_header_that_could_change_the_head_is_refused_and_not_written(string name, string value)
    {
        using var request = new RequestBytes(16);
        request.RequestLine("POST", "/");
        var before = request.Written.Length;

        Assert.False(RequestBytes.CanWrite(name, value));
        Assert.False(request.TryHeader(name, value));
        Assert.Equal(before, request.Written.Length);
    }

    [Theory]
    [InlineData("/v1/models/fraud:predict", true)]
    [InlineData("/v1/models/fraud:predict?explain=1&x=%C3%A9", true)]
    [InlineData("/v1/models/caf\u00e9:predict", false)]
    [InlineData("/v1/a b", false)]
    [InlineData("/v1/a\r\nX: y", false)]
    [InlineData("", false)]
    public void Only_a_visible_ascii_target_is_written_into_the_request_line(string target, bool written) =>
        Assert.Equal(written, Http1.IsRequestTarget(target));

    [Fact]
    public void A_body_larger_than_the_first_buffer_is_written_whole()
    {
        var body = Enumerable.Range(0, 100_000).Select(i => (byte)(i % 251)).ToArray();
        using var request = new RequestBytes(16);
        request.RequestLine("POST", "/");
        request.EndHead();
        request.Body(body);

        Assert.Equal(body, request.Written.Span[^body.Length..].ToArray());
    }
}
