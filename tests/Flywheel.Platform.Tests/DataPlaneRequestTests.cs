using System.Text;
using Flywheel.Core.Serving;
using Flywheel.Gateway.Proxy;

namespace Flywheel.Platform.Tests;

/// <summary>
/// What the data-plane fast path reads off a connection: only the plainest predict or infer head,
/// which every HTTP/1.1 parser reads the same way, is parsed; anything else is not taken, so Kestrel
/// answers it as it always has.
/// </summary>
public sealed class DataPlaneRequestTests
{
    private const long MaxBody = 1 << 20;
    private const string End = "\r\n";
    private const string PredictLine = "POST /v1/models/fraud:predict HTTP/1.1\r\n";
    private const string HostLine = "Host: gateway\r\n";
    private const string LengthLine = "Content-Length: 2\r\n";

    // The headers a plain call needs and the blank line; what follows a request line in most cases below.
    private const string PlainHeaders = HostLine + LengthLine + End;

    // A plain predict head that is still open for one more header line.
    private const string Plain = PredictLine + HostLine + LengthLine;

    private const string PredictHead = PredictLine +
        "Host: gateway:8080\r\nContent-Type:  application/json \r\nContent-Length: 17\r\nAuthorization: Bearer k\r\n\r\n";

    private const string Body = "{\"instances\":[1]}";
    private const string InferHead = "POST /v2/models/fraud/infer HTTP/1.1\r\n" + PlainHeaders;
    private const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    private static HeadParse Parse(string raw, long maxBodyBytes = MaxBody) => DataPlaneRequest.TryParse(Bytes(raw), maxBodyBytes, out _);

    private static DataPlaneRequest Taken(string raw, long maxBodyBytes = MaxBody)
    {
        Assert.Equal(HeadParse.Parsed, DataPlaneRequest.TryParse(Bytes(raw), maxBodyBytes, out var request));
        Assert.NotNull(request);
        return request;
    }

    private static void AssertNotTaken(string raw, long maxBodyBytes = MaxBody)
    {
        // A complete head, so that not taken is never an incomplete head read the wrong way.
        Assert.EndsWith("\r\n\r\n", raw, StringComparison.Ordinal);
        Assert.Equal(HeadParse.NotTaken, DataPlaneRequest.TryParse(Bytes(raw), maxBodyBytes, out var request));
        Assert.Null(request);
    }

    [Fact]
    public void A_plain_predict_is_parsed_with_its_target_model_framing_key_and_headers_in_order()
    {
        var request = Taken(PredictHead + Body);

        Assert.Equal("/v1/models/fraud:predict", request.Target);
        Assert.Equal("fraud", request.Serving.Model);
        Assert.Equal(ServingCall.Predict, request.Serving.Call);
        Assert.Equal(PredictHead.Length, request.HeadLength);
        Assert.Equal(Body.Length, request.ContentLength);
        Assert.Equal("gateway:8080", request.Host);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("k", request.PresentedKey);
        Assert.Null(request.TraceParent);
        Assert.Null(request.ForwardedFor);
        Assert.Null(request.ForwardedProto);
        KeyValuePair<string, string>[] headers =
        [
            new("Host", "gateway:8080"),
            new("Content-Type", "application/json"),
            new("Content-Length", "17"),
            new("Authorization", "Bearer k"),
        ];
        Assert.Equal(headers, request.Headers);
    }

    [Fact]
    public void A_plain_v2_infer_is_parsed_as_an_infer_call()
    {
        var request = Taken(InferHead + "{}");

        Assert.Equal("/v2/models/fraud/infer", request.Target);
        Assert.Equal("fraud", request.Serving.Model);
        Assert.Equal(ServingCall.Infer, request.Serving.Call);
        Assert.Equal(InferHead.Length, request.HeadLength);
        Assert.Equal(2, request.ContentLength);
        Assert.Equal("gateway", request.Host);
        Assert.Null(request.ContentType);
        Assert.Null(request.PresentedKey);
    }

    [Theory]
    [InlineData("/v1/models/fraud:predict", "fraud", ServingCall.Predict)]
    [InlineData("/v2/models/fraud/infer", "fraud", ServingCall.Infer)]
    [InlineData("/v1/models/fraud-v2.1_x~y:predict", "fraud-v2.1_x~y", ServingCall.Predict)]
    [InlineData("/v1/models/a:b:predict", "a:b", ServingCall.Predict)]
    [InlineData("/v2/models/a@b!c/infer", "a@b!c", ServingCall.Infer)]
    [InlineData("/v2/models/.hidden/infer", ".hidden", ServingCall.Infer)]
    public void Plain_targets_name_their_model_and_call(string target, string model, ServingCall call)
    {
        var request = Taken($"POST {target} HTTP/1.1\r\n{PlainHeaders}");

        Assert.Equal(target, request.Target);
        Assert.Equal(model, request.Serving.Model);
        Assert.Equal(call, request.Serving.Call);
    }

    [Theory]
    [InlineData(PredictLine + "Host: gateway\r\nContent-Length: 2\r\nConnection: keep-alive\r\n" + End)]
    [InlineData(PredictLine + "host: gateway\r\ncontent-length: 2\r\nconnection: Keep-Alive\r\n" + End)]
    [InlineData(PredictLine + "Host: [::1]:8080\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: [::1]\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: 10.0.0.1:65535\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: localhost\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host:\tgateway \t\r\n" + LengthLine + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 0\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length:2\r\n" + End)]
    [InlineData(Plain + "X-Note: a\tb\r\n" + End)]
    [InlineData(Plain + "X-Note:\r\n" + End)]
    [InlineData(Plain + "X-Note: !#$%&'*+-.^_`|~\r\n" + End)]
    [InlineData(Plain + "!#$%&'*+-.^_`|~: a\r\n" + End)]
    [InlineData(Plain + "traceparent: " + TraceParent + "\r\n" + End)]
    [InlineData(Plain + "X-Flywheel-Traffic: canary\r\n" + End)]
    [InlineData(Plain + "X-Api-Key: k\r\n" + End)]
    [InlineData(PredictLine + LengthLine + HostLine + End)]
    [InlineData(Plain + "X-Forwarded-Host: elsewhere\r\n" + End)]
    public void Plain_variants_of_a_head_are_parsed(string raw) => Assert.Equal(HeadParse.Parsed, Parse(raw));

    [Theory]
    [InlineData(PredictHead)]
    [InlineData(InferHead)]
    public void Every_proper_prefix_of_a_plain_head_is_incomplete(string head)
    {
        Assert.All(Enumerable.Range(0, head.Length), length => Assert.Equal(HeadParse.Incomplete, Parse(head[..length])));
        Assert.Equal(HeadParse.Parsed, Parse(head));
    }

    [Theory]
    [InlineData("G")]
    [InlineData("post")]
    [InlineData(" POST")]
    [InlineData("\r\nPOST")]
    [InlineData("PRI * HTTP/2.0\r\n")]
    [InlineData("POST /v3/models/")]
    [InlineData("POST /v1/model/")]
    [InlineData("POST /v1/models:")]
    [InlineData("POST /api/v1/models/fraud:predict HTTP/1.1\r\n")]
    [InlineData("POST http://x/v1/models/a:predict HTTP/1.1\r\n")]
    [InlineData("POST /v1/models/a:predict HTTP/1.1\nHost: gateway\n\n")]
    [InlineData("POST /v1/models/a:predict HTTP/1.1\r\nHost: gateway\n")]
    [InlineData("POST /v1/models/a:predict HTTP/1.1\rHost")]
    public void A_start_that_cannot_be_a_plain_predict_or_infer_is_not_taken_before_its_head_ends(string start) =>
        Assert.Equal(HeadParse.NotTaken, Parse(start));

    [Fact]
    public void A_head_that_has_not_ended_within_8_KB_is_not_taken()
    {
        var start = PredictLine + HostLine + "X-Pad: ";

        Assert.Equal(HeadParse.Incomplete, Parse(start + new string('a', DataPlaneRequest.MaxHeadBytes - 1 - start.Length)));
        Assert.Equal(HeadParse.NotTaken, Parse(start + new string('a', DataPlaneRequest.MaxHeadBytes - start.Length)));
        Assert.Equal(HeadParse.NotTaken, Parse(start + new string('a', 2 * DataPlaneRequest.MaxHeadBytes)));
    }

    [Fact]
    public void A_head_of_8_KB_is_parsed_and_a_longer_one_is_not_taken()
    {
        static string Padded(int headLength)
        {
            var open = Plain + "X-Pad: ";
            return open + new string('a', headLength - open.Length - "\r\n\r\n".Length) + "\r\n\r\n";
        }

        Assert.Equal(DataPlaneRequest.MaxHeadBytes, Taken(Padded(DataPlaneRequest.MaxHeadBytes)).HeadLength);
        AssertNotTaken(Padded(DataPlaneRequest.MaxHeadBytes + 1));
    }

    [Theory]
    [InlineData("GET /v1/models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("PUT /v1/models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("post /v1/models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("Post /v1/models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict HTTP/1.0\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict HTTP/2.0\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict http/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict\r\n" + PlainHeaders)]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("\r\n" + PredictLine + PlainHeaders)]
    [InlineData("POST  /v1/models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict  HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict HTTP/1.1 \r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict\tHTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict?x=1 HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict? HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict#f HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fr%61ud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud%3Apredict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/caf\u00E9:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fr\\aud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models//fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1//models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/./fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/../models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict/. HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict/ HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v2/models/fraud/infer/ HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud/feedback HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v2/models/fraud/versions/3/infer HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:explain HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud/extra:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v2/models/fraud HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v2/models/fraud/ready HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v2/models/fraud/infer/extra HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/ HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /api/v1/models/fraud:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /api/models HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST http://x/v1/models/a:predict HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST * HTTP/1.1\r\n" + PlainHeaders)]
    [InlineData("POST /v1/models/fraud:predict HTTP/1.1\n" + PlainHeaders)]
    public void A_request_line_other_than_a_plain_split_call_over_http_1_1_is_not_taken(string raw) => AssertNotTaken(raw);

    [Fact]
    public void A_target_of_up_to_2048_bytes_is_parsed_and_a_longer_one_is_not_taken()
    {
        static string Head(int targetLength)
        {
            const string Open = "/v1/models/";
            const string Close = ":predict";
            return $"POST {Open}{new string('m', targetLength - Open.Length - Close.Length)}{Close} HTTP/1.1\r\n{PlainHeaders}";
        }

        Assert.Equal(2048, Taken(Head(2048)).Target.Length);
        AssertNotTaken(Head(2049));
    }

    [Theory]
    [InlineData(PredictLine + LengthLine + End)]
    [InlineData(PredictLine + End)]
    [InlineData(PredictLine + "Host: gateway\r\nHost: gateway\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: gateway\r\nhost: other\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host:\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: gate way\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: gate_way\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: a:99999\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: a:x\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: a:\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: a:80:80\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: user@gateway\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: gateway/x\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: gateway, other\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: [::1\r\n" + LengthLine + End)]
    [InlineData(PredictLine + "Host: [::1]x\r\n" + LengthLine + End)]
    public void A_request_without_exactly_one_plain_host_is_not_taken(string raw) => AssertNotTaken(raw);

    [Theory]
    [InlineData(PredictLine + HostLine + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 2\r\nContent-Length: 2\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 2\r\ncontent-length: 3\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 2, 2\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: +2\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: -2\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: -0\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 1 2\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 0x2\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 2a\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 2.0\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length:\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: \r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 1234567890123456789\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 99999999999999999999999\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Content-Length: 1048577\r\n" + End)]
    public void A_request_without_exactly_one_plain_content_length_within_the_limit_is_not_taken(string raw) => AssertNotTaken(raw);

    [Fact]
    public void A_content_length_is_taken_up_to_the_body_limit_and_never_so_large_that_head_and_body_pass_an_int()
    {
        Assert.Equal(100, Taken(PredictLine + HostLine + "Content-Length: 100\r\n" + End, maxBodyBytes: 100).ContentLength);
        AssertNotTaken(PredictLine + HostLine + "Content-Length: 101\r\n" + End, maxBodyBytes: 100);

        // The head and the body are read as one buffer, whose length is an int.
        var largest = int.MaxValue - DataPlaneRequest.MaxHeadBytes;
        Assert.Equal(largest, Taken(PredictLine + HostLine + $"Content-Length: {largest}\r\n" + End, long.MaxValue).ContentLength);
        AssertNotTaken(PredictLine + HostLine + $"Content-Length: {largest + 1}\r\n" + End, long.MaxValue);
        AssertNotTaken(PredictLine + HostLine + "Content-Length: 2147483648\r\n" + End, long.MaxValue);
    }

    [Theory]
    [InlineData(Plain + "Transfer-Encoding: chunked\r\n" + End)]
    [InlineData(Plain + "transfer-encoding: chunked\r\n" + End)]
    [InlineData(Plain + "Transfer-Encoding: identity\r\n" + End)]
    [InlineData(PredictLine + HostLine + "Transfer-Encoding: chunked\r\n" + End)]
    [InlineData(Plain + "Expect: 100-continue\r\n" + End)]
    [InlineData(Plain + "Upgrade: websocket\r\n" + End)]
    [InlineData(Plain + "TE: trailers\r\n" + End)]
    [InlineData(Plain + "Trailer: X-Checksum\r\n" + End)]
    [InlineData(Plain + "Keep-Alive: timeout=5\r\n" + End)]
    [InlineData(Plain + "Proxy-Connection: keep-alive\r\n" + End)]
    [InlineData(Plain + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n" + End)]
    [InlineData(Plain + "Connection: close\r\n" + End)]
    [InlineData(Plain + "Connection: upgrade\r\n" + End)]
    [InlineData(Plain + "Connection: keep-alive, Upgrade\r\n" + End)]
    [InlineData(Plain + "Connection:\r\n" + End)]
    [InlineData(Plain + "Connection: keep-alive\r\nConnection: close\r\n" + End)]
    [InlineData(Plain + "tracestate: vendor=1\r\n" + End)]
    [InlineData(Plain + "baggage: user=1\r\n" + End)]
    [InlineData(Plain + "Request-Id: |abc.1.\r\n" + End)]
    [InlineData(Plain + "Correlation-Context: user=1\r\n" + End)]
    public void A_header_that_changes_framing_the_connection_or_tracing_is_not_taken(string raw) => AssertNotTaken(raw);

    [Theory]
    [InlineData(Plain + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n" + End)]
    [InlineData(Plain + "traceparent: 00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-00\r\n" + End)]
    [InlineData(Plain + "traceparent: 00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-00\r\n" + End)]
    [InlineData(Plain + "traceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-00\r\n" + End)]
    [InlineData(Plain + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-0000000000000000-00\r\n" + End)]
    [InlineData(Plain + "traceparent: ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\r\n" + End)]
    [InlineData(Plain + "traceparent:\r\n" + End)]
    [InlineData(Plain + "traceparent: " + TraceParent + "\r\ntraceparent: " + TraceParent + "\r\n" + End)]
    public void A_traceparent_other_than_one_unsampled_version_00_context_is_not_taken(string raw) => AssertNotTaken(raw);

    [Theory]
    [InlineData(Plain + "X-Note : 1\r\n" + End)]
    [InlineData(Plain + "X-Note\t: 1\r\n" + End)]
    [InlineData(PredictLine + "Host : gateway\r\n" + LengthLine + End)]
    [InlineData(PredictLine + " Host: gateway\r\n" + LengthLine + End)]
    [InlineData(Plain + "X-Note: a\r\n folded\r\n" + End)]
    [InlineData(Plain + "X-Note: a\r\n\tfolded\r\n" + End)]
    [InlineData(Plain + "X-Note 1\r\n" + End)]
    [InlineData(Plain + ": 1\r\n" + End)]
    [InlineData(Plain + "X(Note): 1\r\n" + End)]
    [InlineData(PredictLine + "Host: gateway\nContent-Length: 2\r\n" + End)]
    [InlineData(Plain + "X-Note: 1\nX-Other: 2\r\n" + End)]
    [InlineData(Plain + "X-Note: 1\rX-Other: 2\r\n" + End)]
    public void A_header_line_that_parsers_could_read_differently_is_not_taken(string raw) => AssertNotTaken(raw);

    [Theory]
    [InlineData(' ')]
    [InlineData('\t')]
    [InlineData('"')]
    [InlineData('(')]
    [InlineData(')')]
    [InlineData(',')]
    [InlineData('/')]
    [InlineData(';')]
    [InlineData('<')]
    [InlineData('=')]
    [InlineData('>')]
    [InlineData('?')]
    [InlineData('@')]
    [InlineData('[')]
    [InlineData('\\')]
    [InlineData(']')]
    [InlineData('{')]
    [InlineData('}')]
    [InlineData('\u0001')]
    [InlineData('\u007F')]
    [InlineData('\u00E9')]
    public void A_header_name_with_a_character_outside_a_token_is_not_taken(char c) => AssertNotTaken(Plain + "X-No" + c + "te: 1\r\n" + End);

    [Theory]
    [InlineData('\u0000')]
    [InlineData('\u0001')]
    [InlineData('\u000B')]
    [InlineData('\u000C')]
    [InlineData('\r')]
    [InlineData('\n')]
    [InlineData('\u001F')]
    [InlineData('\u007F')]
    [InlineData('\u0080')]
    [InlineData('\u00E9')]
    [InlineData('\u00FF')]
    public void A_header_value_with_a_control_character_or_a_byte_beyond_ascii_is_not_taken(char c) => AssertNotTaken(Plain + "X-Note: a" + c + "b\r\n" + End);

    [Theory]
    [InlineData(Plain + "X-Api-Key: a\r\nX-Api-Key: a\r\n" + End)]
    [InlineData(Plain + "X-Api-Key: a\r\nx-api-key: b\r\n" + End)]
    [InlineData(Plain + "X-Api-Key:\r\nX-Api-Key: a\r\n" + End)]
    [InlineData(Plain + "Authorization: Bearer a\r\nAuthorization: Bearer a\r\n" + End)]
    [InlineData(Plain + "Authorization: Bearer a\r\nauthorization: Bearer b\r\n" + End)]
    [InlineData(Plain + "Content-Type: application/json\r\nContent-Type: application/json\r\n" + End)]
    [InlineData(Plain + "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.1\r\n" + End)]
    [InlineData(Plain + "X-Forwarded-Proto: https\r\nX-Forwarded-Proto: https\r\n" + End)]
    public void A_header_the_call_reads_as_one_value_is_not_taken_when_it_is_repeated(string raw) => AssertNotTaken(raw);

    [Fact]
    public void Up_to_64_header_lines_are_parsed_and_more_are_not_taken()
    {
        var lines = string.Concat(Enumerable.Range(0, DataPlaneRequest.MaxHeaders - 2).Select(i => $"X-Pad-{i}: {i}\r\n"));

        Assert.Equal(DataPlaneRequest.MaxHeaders, Taken(Plain + lines + End).Headers.Count);
        AssertNotTaken(Plain + lines + "X-Pad-Last: x\r\n" + End);
    }

    [Theory]
    [InlineData("X-Api-Key: a\r\nAuthorization: Bearer b\r\n", "a")]
    [InlineData("Authorization: Bearer b\r\nX-Api-Key: a\r\n", "a")]
    [InlineData("x-api-key: a\r\n", "a")]
    [InlineData("X-Api-Key:\r\nAuthorization: Bearer b\r\n", "b")]
    [InlineData("X-Api-Key:  \r\nAuthorization: Bearer b\r\n", "b")]
    [InlineData("Authorization: Bearer k\r\n", "k")]
    [InlineData("Authorization: bearer k\r\n", "k")]
    [InlineData("authorization: BEARER k\r\n", "k")]
    [InlineData("Authorization: Bearer   k  \r\n", "k")]
    [InlineData("Authorization: Basic x\r\n", null)]
    [InlineData("Authorization: Bearer    \r\n", null)]
    [InlineData("Authorization: Bearer\r\n", null)]
    [InlineData("Authorization: Bearerk\r\n", null)]
    [InlineData("Authorization:\r\n", null)]
    [InlineData("X-Api-Key:\r\n", null)]
    [InlineData("", null)]
    public void The_presented_key_is_read_as_the_key_store_reads_it(string keyHeaders, string? key) =>
        Assert.Equal(key, Taken(Plain + keyHeaders + End).PresentedKey);

    [Theory]
    [InlineData("X-Flywheel-Traffic", true)]
    [InlineData("x-flywheel-version", true)]
    [InlineData("X-FLYWHEEL-SHADOW", true)]
    [InlineData("X-Flywheel-Caller", true)]
    [InlineData("X-Flywheel-Model-Version", false)]
    [InlineData("X-Flywheel", false)]
    [InlineData("X-Flywheel-Traffic-Role", false)]
    [InlineData("X-Api-Key", false)]
    [InlineData("Host", false)]
    [InlineData("", false)]
    public void Serving_headers_are_recognised_in_any_case(string name, bool serving) =>
        Assert.Equal(serving, DataPlaneRequest.IsServingHeader(name));

    [Fact]
    public void Serving_headers_a_client_sends_are_kept_with_the_others_for_the_forwarder_to_drop()
    {
        var request = Taken(Plain + "X-Flywheel-Version: 3\r\n" + End);

        Assert.Contains(new KeyValuePair<string, string>("X-Flywheel-Version", "3"), request.Headers);
    }

    [Fact]
    public void An_unsampled_traceparent_and_single_forwarded_headers_are_kept()
    {
        var request = Taken(Plain + $"traceparent: {TraceParent}\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-Proto: https\r\n" + End);

        Assert.Equal(TraceParent, request.TraceParent);
        Assert.Equal("203.0.113.7, 10.0.0.1", request.ForwardedFor);
        Assert.Equal("https", request.ForwardedProto);
    }

    [Theory]
    [InlineData(TraceParent, true)]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02", false)]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-00", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-00", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-00", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-00", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-00", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-01", false)]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-00", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-00", false)]
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", false)]
    [InlineData("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", false)]
    [InlineData("00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_00", false)]
    [InlineData("", false)]
    public void Only_an_unsampled_version_00_traceparent_with_nonzero_ids_is_passed_on(string value, bool unsampled) =>
        Assert.Equal(unsampled, DataPlaneRequest.IsUnsampledTraceParent(value));

    [Fact]
    public void A_header_is_found_by_its_first_non_empty_value_in_any_case()
    {
        var request = Taken(Plain + "X-Note:\r\nx-note: second\r\nX-NOTE: third\r\nX-Empty:\r\n" + End);

        Assert.Equal("second", request.Header("X-Note"));
        Assert.Equal("second", request.Header("x-NOTE"));
        Assert.Equal("gateway", request.Header("host"));
        Assert.Equal("2", request.Header("Content-Length"));
        Assert.Null(request.Header("X-Empty"));
        Assert.Null(request.Header("X-Missing"));
    }

    [Theory]
    [InlineData("/v1/models/fraud:predict", true)]
    [InlineData("/a", true)]
    [InlineData("/A/z/0/9", true)]
    [InlineData("/a-b._~!$&'()*+,;=:@", true)]
    [InlineData("/a/.b/c..d/...", true)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("*", false)]
    [InlineData("/", false)]
    [InlineData("//", false)]
    [InlineData("//a", false)]
    [InlineData("/a//b", false)]
    [InlineData("/a/", false)]
    [InlineData("/.", false)]
    [InlineData("/..", false)]
    [InlineData("/./a", false)]
    [InlineData("/a/.", false)]
    [InlineData("/a/../b", false)]
    [InlineData("/a%20b", false)]
    [InlineData("/a%", false)]
    [InlineData("/a?b", false)]
    [InlineData("/a?", false)]
    [InlineData("/a#b", false)]
    [InlineData("/a b", false)]
    [InlineData("/a\tb", false)]
    [InlineData("/caf\u00E9", false)]
    [InlineData("/a\u007Fb", false)]
    [InlineData("/a\\b", false)]
    [InlineData("/a\"b", false)]
    [InlineData("/a<b>", false)]
    [InlineData("/a[b]", false)]
    [InlineData("/a{b}", false)]
    [InlineData("/a|b", false)]
    [InlineData("/a^b", false)]
    [InlineData("/a`b", false)]
    public void A_plain_path_has_non_empty_non_dot_segments_of_unescaped_path_characters(string path, bool plain) =>
        Assert.Equal(plain, DataPlaneRequest.IsPlainPath(Bytes(path)));

    [Fact]
    public void A_plain_path_is_at_most_2048_bytes()
    {
        Assert.True(DataPlaneRequest.IsPlainPath(Bytes("/" + new string('a', 2047))));
        Assert.False(DataPlaneRequest.IsPlainPath(Bytes("/" + new string('a', 2048))));
    }

    [Theory]
    [InlineData("gateway", true)]
    [InlineData("gateway:8080", true)]
    [InlineData("a-b.example.com", true)]
    [InlineData("10.0.0.1", true)]
    [InlineData("10.0.0.1:65535", true)]
    [InlineData("[::1]", true)]
    [InlineData("[::1]:8080", true)]
    [InlineData("", false)]
    [InlineData("a b", false)]
    [InlineData("a_b", false)]
    [InlineData("a\tb", false)]
    [InlineData("a:99999", false)]
    [InlineData("a:65536", false)]
    [InlineData("a:123456", false)]
    [InlineData("a:x", false)]
    [InlineData("a:", false)]
    [InlineData("a:-1", false)]
    [InlineData("a:+80", false)]
    [InlineData("a:8080:1", false)]
    [InlineData("user@a", false)]
    [InlineData("a/b", false)]
    [InlineData("a,b", false)]
    [InlineData("[::1", false)]
    [InlineData("[::1]x", false)]
    [InlineData("[::1]:", false)]
    [InlineData("[::1]:99999", false)]
    public void A_plain_host_is_a_name_or_address_with_an_optional_port(string host, bool plain) =>
        Assert.Equal(plain, DataPlaneRequest.IsPlainHost(Bytes(host)));

    [Theory]
    [InlineData("")]
    [InlineData(Body)]
    [InlineData(Body + PredictHead + Body)]
    [InlineData(Body + "POST /v1/mo")]
    [InlineData(Body + "GET / HTTP/1.0\r\n\r\n")]
    [InlineData("\u0001\u00FF\r\n\r\nHost: elsewhere\r\n\r\n")]
    public void What_follows_the_head_does_not_change_how_it_is_read(string following)
    {
        var request = Taken(PredictHead + following);

        Assert.Equal(PredictHead.Length, request.HeadLength);
        Assert.Equal("/v1/models/fraud:predict", request.Target);
        Assert.Equal(17, request.ContentLength);
        Assert.Equal("gateway:8080", request.Host);
        Assert.Equal(4, request.Headers.Count);
    }
}
