using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts.Serving;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Yarp.ReverseProxy.Forwarder;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// A call the data-plane fast path admitted straight off a client connection: its request as the
/// pipeline would forward it, and its answer written to the connection as it comes. Where the bytes
/// go is the subclass's: Kestrel's transport pipe (<see cref="DataPlaneConnections"/>) or a
/// blocking socket on a thread of its own (<see cref="DataPlaneFront"/>).
/// </summary>
internal abstract class FastPathCall(
    DataPlaneRequest request, byte[] body, string role, DataPlaneConnections.ClientOrigin caller, Activity? activity,
    CancellationToken aborted, CancellationToken closing, string traceIdentifier) : ForwardedCall
{
    private const int FlushEvery = 64 * 1024;
    private static readonly HttpContext NoError = new DefaultHttpContext();
    private bool _started;
    private bool _chunked;
    private long _unflushed;

    public int Status { get; private set; }

    /// <summary>Whether the worker's answer has begun to go out (not the gateway's own problem answer).</summary>
    public bool RelayStarted { get; private set; }

    /// <summary>Whether the connection ends after this answer (which then says so).</summary>
    public bool LastOnConnection { get; set; }

    /// <summary>Whether the answer was cut off: the connection must end.</summary>
    public bool Broken { get; private set; }

    /// <summary>Whether the client is known to have left.</summary>
    public abstract bool ClientGone { get; }

    public Activity? Activity => activity;

    public override CancellationToken Aborted => aborted;

    public override bool ResponseStarted => _started;

    public override bool Traced => activity is not null;

    public override RequestBytes BuildRequest(DnsEndPoint endpoint, Activity? current)
    {
        var bytes = new RequestBytes(512 + body.Length);
        bytes.RequestLine("POST", request.Target);
        bytes.Host(endpoint);
        foreach (var (name, value) in request.Headers)
        {
            if (!DirectForwarder.RequestHeadersNotForwarded.Contains(name) && !DataPlaneRequest.IsServingHeader(name))
            {
                // DataPlaneRequest took only names and values that can be written as they are.
                bytes.TryHeader(name, value);
            }
        }

        bytes.TryHeader(ServingHeaders.Traffic, role);
        bytes.Forwarded(caller.Address, caller.Scheme, request.Host);
        if (current is null)
        {
            // Not traced: the worker is told so, as the pipeline's unrecorded span would tell it, and does not trace the call on its own.
            bytes.TryHeader("traceparent", request.TraceParent ?? $"00-{ActivityTraceId.CreateRandom().ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-00");
        }

        bytes.TraceAndBody(current, body);
        return bytes;
    }

    public override void StartResponse(ResponseHead head)
    {
        _started = true;
        RelayStarted = true;
        Status = head.Status;
        var text = new StringBuilder(256);
        text.Append("HTTP/1.1 ").Append(head.Status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(ReasonPhrases.GetReasonPhrase(head.Status)).Append("\r\n");
        foreach (var (name, value) in head.Headers)
        {
            if (!DirectForwarder.ResponseHeadersNotForwarded.Contains(name))
            {
                text.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }

        if (LastOnConnection || closing.IsCancellationRequested)
        {
            // The gateway is stopping: this connection ends after this answer.
            text.Append("Connection: close\r\n");
        }

        if (head.HasBody)
        {
            if (head.ContentLength is { } length)
            {
                text.Append("Content-Length: ").Append(length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
            }
            else
            {
                _chunked = true;
                text.Append("Transfer-Encoding: chunked\r\n");
            }
        }

        text.Append("\r\n");
        WriteAscii(text.ToString());
    }

    public override async ValueTask WriteBodyAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        if (_chunked)
        {
            WriteAscii($"{bytes.Length:x}\r\n");
        }

        Write(bytes.Span);
        _unflushed += bytes.Length;
        if (_chunked)
        {
            WriteAscii("\r\n");
        }

        if (_chunked || _unflushed >= FlushEvery)
        {
            _unflushed = 0;
            await FlushAsync(cancellationToken);
        }
    }

    public override async ValueTask EndResponseAsync(CancellationToken cancellationToken)
    {
        if (_chunked)
        {
            WriteAscii("0\r\n\r\n");
        }

        _unflushed = 0;
        await FlushAsync(cancellationToken);
    }

    public override async ValueTask WriteProblemAsync(int status, string title, string field, string message)
    {
        Status = status;
        var problem = new ValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Type = status switch
            {
                StatusCodes.Status502BadGateway => "https://tools.ietf.org/html/rfc9110#section-15.6.3",
                StatusCodes.Status503ServiceUnavailable => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
                _ => "https://tools.ietf.org/html/rfc9110#section-15.6.5",
            },
            Status = status,
            Title = title,
            Detail = message,
        };
        problem.Extensions["traceId"] = activity?.Id ?? traceIdentifier;
        var json = JsonSerializer.SerializeToUtf8Bytes(problem, JsonSerializerOptions.Web);
        WriteAscii($"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {ReasonPhrases.GetReasonPhrase(status)}\r\n" +
                   $"Content-Type: application/problem+json\r\nContent-Length: {json.Length.ToString(CultureInfo.InvariantCulture)}\r\n" +
                   (LastOnConnection || closing.IsCancellationRequested ? "Connection: close\r\n\r\n" : "\r\n"));
        Write(json);
        _started = true;
        await FlushProblemAsync();
    }

    public override void Abort()
    {
        Broken = true;
        AbortConnection();
    }

    public override HttpContext HealthContext(IForwarderErrorFeature? error)
    {
        if (error is null)
        {
            return NoError;
        }

        var context = new DefaultHttpContext();
        context.Features.Set(error);
        return context;
    }

    public override void ClearError()
    {
    }

    /// <summary>Bytes of the answer, sent at the next flush.</summary>
    protected abstract void Write(ReadOnlySpan<byte> bytes);

    protected abstract ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>Sends the gateway's own answer; a client that does not read it must not hold the connection for long.</summary>
    protected abstract ValueTask FlushProblemAsync();

    /// <summary>Ends the connection at once.</summary>
    protected abstract void AbortConnection();

    private void WriteAscii(string ascii)
    {
        Span<byte> small = stackalloc byte[256];
        var bytes = ascii.Length <= small.Length ? small[..Encoding.ASCII.GetBytes(ascii, small)] : Encoding.ASCII.GetBytes(ascii);
        Write(bytes);
        _unflushed += bytes.Length;
    }
}
