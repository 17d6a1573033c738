using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Telemetry;
using Flywheel.Gateway.Traffic;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// The gateway's fast path for predictions: a Kestrel connection middleware that reads predict and
/// infer calls straight off the connection, admits them by the admission middleware's rules
/// (<see cref="IDataPlaneAdmission"/>), forwards them with <see cref="DirectForwarder"/>, and writes
/// the worker's answer back, without ASP.NET Core's HTTP parsing, hosting, routing and middleware
/// in between (docs/serving.md, "The fast path").
/// <para>
/// It takes only what it can answer exactly as the pipeline would: the plainest form of the call
/// (<see cref="DataPlaneRequest"/>), from a key the gateway has cached and that may call the model,
/// within its limits, for a model with a deployment. At the first request it does not take, the
/// connection is handed to Kestrel's HTTP/1.1 handler with that request unread, and stays there:
/// Kestrel and the pipeline answer it and everything after it as they always have, so nothing the
/// fast path is unsure of is ever its to refuse.
/// </para>
/// <para>
/// Keep-alive and header timeouts follow Kestrel's limits; a call gets the inference route's
/// timeout (504 when it passes); a server shutdown ends the connection after the call in progress.
/// Predictions are traced at the configured ratio as the pipeline traces them, with the decision
/// passed to the worker in the <c>traceparent</c>.
/// </para>
/// </summary>
internal sealed partial class DataPlaneConnections
{
    private static readonly HttpContext NoError = new DefaultHttpContext();

    private readonly IDataPlaneAdmission _admission;
    private readonly DirectForwarder _forwarder;
    private readonly ILogger<DataPlaneConnections> _logger;
    private readonly long _maxBodyBytes;
    private readonly TimeSpan _keepAlive;
    private readonly TimeSpan _headersTimeout;
    private readonly MinDataRate? _minBodyRate;
    private readonly long _maxBuffered;
    private readonly TimeSpan _callTimeout;
    private readonly double _traceRatio;
    private readonly bool _forwardedHeaders;
    private readonly Counter<long> _requests;
    private long _taken;
    private long _handedOff;

    public DataPlaneConnections(
        IDataPlaneAdmission admission,
        DirectForwarder forwarder,
        IOptions<GatewayOptions> options,
        IOptions<KestrelServerOptions> kestrel,
        IConfiguration configuration,
        IMeterFactory meters,
        ILogger<DataPlaneConnections> logger)
    {
        _admission = admission;
        _forwarder = forwarder;
        _logger = logger;
        Enabled = options.Value.FastPath && forwarder.Enabled;
        _maxBodyBytes = options.Value.MaxDataPlaneBodyBytes;
        _keepAlive = kestrel.Value.Limits.KeepAliveTimeout;
        _headersTimeout = kestrel.Value.Limits.RequestHeadersTimeout;
        _minBodyRate = kestrel.Value.Limits.MinRequestBodyDataRate;
        _maxBuffered = kestrel.Value.Limits.MaxRequestBufferSize ?? long.MaxValue;
        _callTimeout = GatewayRoutes.InferenceTimeout;
        _traceRatio = PredictionTracing.ParseRatio(configuration[PredictionTracing.RatioKey]);
        // As ASP.NET Core's own switch (ASPNETCORE_FORWARDEDHEADERS_ENABLED) reads it.
        _forwardedHeaders = string.Equals(configuration["FORWARDEDHEADERS_ENABLED"], "true", StringComparison.OrdinalIgnoreCase);
        _requests = meters.Create(GatewayMetrics.MeterName).CreateCounter<long>("flywheel.gateway.fast_path", "{request}",
            "Predict and infer calls the data-plane fast path answered (taken), and connections it handed to the HTTP pipeline (handed_off).");
        if (Enabled)
        {
            LogEnabled();
        }
    }

    public bool Enabled { get; }

    /// <summary>Calls the fast path answered since the gateway started.</summary>
    public long Taken => Interlocked.Read(ref _taken);

    /// <summary>Connections the fast path handed to Kestrel's HTTP handler since the gateway started.</summary>
    public long HandedOff => Interlocked.Read(ref _handedOff);

    /// <summary>Puts the fast path in front of the HTTP handler of every endpoint Kestrel binds, those from configuration included.</summary>
    public static void InFrontOfEveryEndpoint(KestrelServerOptions kestrel) => kestrel.ConfigureEndpointDefaults(listen =>
    {
        var fastPath = listen.ApplicationServices.GetRequiredService<DataPlaneConnections>();
        listen.Use(next => connection => fastPath.OnConnectionAsync(connection, next));
    });

    /// <summary>Kestrel's connection middleware: the fast path for the calls it takes, then Kestrel's HTTP handler for the rest.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (!Enabled)
        {
            await next(connection);
            return;
        }

        var input = connection.Transport.Input;
        var closing = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using var timer = new CancellationTokenSource();
        // Between requests the keep-alive limit, the client leaving or a shutdown ends the connection;
        // a request under way is read, and a call runs, to its end unless the client leaves or its time is up.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, connection.ConnectionClosed, closing);
        using var busy = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, connection.ConnectionClosed);
        var sequence = 0;
        while (true)
        {
            Arm(timer, _keepAlive);
            ReadResult result;
            try
            {
                result = await input.ReadAsync(idle.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException)
            {
                return;
            }

            if (result.Buffer.IsEmpty && result.IsCompleted)
            {
                return;
            }

            DataPlaneRequest? request = null;
            var handOff = false;
            var armedForHead = false;
            var armedForBody = false;
            try
            {
                while (true)
                {
                    var buffer = result.Buffer;
                    var buffered = buffer.Length;
                    var parse = Parse(buffer, out request);
                    if (parse == HeadParse.Parsed && (!_admission.MayTake(request!) || request!.HeadLength + (long)request.ContentLength > _maxBuffered))
                    {
                        // Not a call it would take (no key, a key known to be unknown or not allowed the
                        // model), or a body larger than Kestrel would buffer: the pipeline reads it as it comes.
                        parse = HeadParse.NotTaken;
                    }

                    if (parse == HeadParse.Parsed && buffered >= request!.HeadLength + request.ContentLength)
                    {
                        break;
                    }

                    // Nothing consumed and nothing examined: every byte can still go to Kestrel as it came.
                    input.AdvanceTo(buffer.Start);
                    if (parse == HeadParse.NotTaken || result.IsCompleted)
                    {
                        handOff = true;
                        break;
                    }

                    if (parse == HeadParse.Incomplete && !armedForHead)
                    {
                        armedForHead = true;
                        Arm(timer, _headersTimeout);
                    }
                    else if (parse == HeadParse.Parsed && !armedForBody)
                    {
                        armedForBody = true;
                        Arm(timer, Sum(_headersTimeout, BodyTime(request!.ContentLength)));
                    }

                    var needed = parse == HeadParse.Parsed ? request!.HeadLength + (long)request.ContentLength : buffered + 1;
                    result = await input.ReadAtLeastAsync((int)needed, busy.Token);
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException)
            {
                // Too slow or gone before the request was whole: Kestrel gets what came, and answers it or sees the end.
                handOff = true;
            }

            if (handOff)
            {
                await HandOffAsync(connection, next, timer);
                return;
            }

            var whole = result.Buffer;
            var body = whole.Slice(request!.HeadLength, request.ContentLength).ToArray();
            AdmittedCall? admitted = null;
            var caller = Caller(connection, request);
            if (caller is not null && !busy.IsCancellationRequested && _forwarder.CanTake())
            {
                try
                {
                    admitted = await _admission.TryAdmitAsync(request, body, caller.Address, busy.Token);
                }
                catch (Exception exception) when (exception is OperationCanceledException or Npgsql.NpgsqlException or TimeoutException)
                {
                    // The key could not be looked up: the middleware tries, and answers what it finds.
                    admitted = null;
                }
            }

            if (admitted is null)
            {
                input.AdvanceTo(whole.Start);
                await HandOffAsync(connection, next, timer);
                return;
            }

            input.AdvanceTo(whole.GetPosition(request.HeadLength + request.ContentLength));
            sequence++;
            Arm(timer, _callTimeout);
            var traced = request.TraceParent is null && PredictionTracing.Keep(isPrediction: true, callerSampled: false, _traceRatio, Random.Shared.NextDouble());
            bool broken;
            using (var activity = traced ? StartServerActivity(request) : null)
            {
                var call = new ConnectionCall(connection, request, body, admitted.Role, caller!, activity, busy.Token, closing,
                    $"{connection.ConnectionId}:{sequence.ToString("X8", CultureInfo.InvariantCulture)}");
                try
                {
                    if (!await _forwarder.ForwardAsync(call))
                    {
                        await call.WriteProblemAsync(StatusCodes.Status503ServiceUnavailable, "No inference worker is available.", "inference",
                            "The inference service has no destination the gateway can reach; nothing was predicted.");
                    }
                }
                catch (OperationCanceledException) when (busy.IsCancellationRequested)
                {
                    if (connection.ConnectionClosed.IsCancellationRequested || call.ResponseStarted)
                    {
                        // The client left, or part of the answer went out before the time was up: nothing more can be said.
                        connection.Abort();
                        return;
                    }

                    call.LastOnConnection = true;
                    await call.WriteProblemAsync(StatusCodes.Status504GatewayTimeout, "The inference service did not answer in time.", "inference",
                        $"No answer within {_callTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; the prediction may or may not have been made.");
                    return;
                }

                activity?.SetTag("http.response.status_code", call.Status);
                Interlocked.Increment(ref _taken);
                _requests.Add(1, new KeyValuePair<string, object?>("outcome", "taken"));
                _admission.Completed(admitted, call.Status);
                broken = call.Broken;
            }

            if (broken || closing.IsCancellationRequested)
            {
                // A broken answer ends the connection; a stopping server, after the call in progress.
                return;
            }
        }
    }

    /// <summary>A timeout for the timer; Kestrel's "no limit" (<see cref="TimeSpan.MaxValue"/>) and anything a timer cannot hold is none.</summary>
    private static void Arm(CancellationTokenSource timer, TimeSpan timeout) =>
        timer.CancelAfter(timeout <= TimeSpan.Zero || timeout >= MaxTimer ? Timeout.InfiniteTimeSpan : timeout);

    private static readonly TimeSpan MaxTimer = TimeSpan.FromDays(1);

    /// <summary>Two timeouts one after the other; none when either is none.</summary>
    private static TimeSpan Sum(TimeSpan first, TimeSpan second) =>
        first <= TimeSpan.Zero || second <= TimeSpan.Zero || first >= MaxTimer || second >= MaxTimer ? Timeout.InfiniteTimeSpan : first + second;

    /// <summary>How long a body may take at Kestrel's minimum request body rate (none without one).</summary>
    private TimeSpan BodyTime(int length) =>
        _minBodyRate is { } rate ? rate.GracePeriod + TimeSpan.FromSeconds(length / rate.BytesPerSecond) : Timeout.InfiniteTimeSpan;

    private async Task HandOffAsync(ConnectionContext connection, ConnectionDelegate next, CancellationTokenSource timer)
    {
        // Kestrel keeps its own time from here.
        timer.CancelAfter(Timeout.InfiniteTimeSpan);
        Interlocked.Increment(ref _handedOff);
        _requests.Add(1, new KeyValuePair<string, object?>("outcome", "handed_off"));
        await next(connection);
    }

    private static HeadParse Parse(ReadOnlySequence<byte> buffer, long maxBodyBytes, out DataPlaneRequest? request)
    {
        if (buffer.IsSingleSegment)
        {
            return DataPlaneRequest.TryParse(buffer.FirstSpan, maxBodyBytes, out request);
        }

        var length = (int)Math.Min(buffer.Length, DataPlaneRequest.MaxHeadBytes);
        var copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            buffer.Slice(0, length).CopyTo(copy);
            return DataPlaneRequest.TryParse(copy.AsSpan(0, length), maxBodyBytes, out request);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private HeadParse Parse(ReadOnlySequence<byte> buffer, out DataPlaneRequest? request) => Parse(buffer, _maxBodyBytes, out request);

    /// <summary>
    /// The client's address and scheme as ASP.NET Core's forwarded headers would leave them (the last
    /// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> entries, when they are switched on), or null
    /// when the pipeline should read them.
    /// </summary>
    private ClientOrigin? Caller(ConnectionContext connection, DataPlaneRequest request)
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        var scheme = "http";
        if (!_forwardedHeaders)
        {
            return new ClientOrigin(address, scheme);
        }

        if (request.ForwardedProto is not null && request.ForwardedFor is null)
        {
            return null;
        }

        if (request.ForwardedFor is { } forwardedFor)
        {
            if (!IPEndPoint.TryParse(LastEntry(forwardedFor), out var forwarded))
            {
                return null;
            }

            address = forwarded.Address;
        }

        if (request.ForwardedProto is { } forwardedProto)
        {
            scheme = LastEntry(forwardedProto);
            if (!scheme.Equals("http", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        return new ClientOrigin(address, scheme);
    }

    private static string LastEntry(string value) => value[(value.LastIndexOf(',') + 1)..].Trim();

    private static Activity? StartServerActivity(DataPlaneRequest request)
    {
        var activity = DirectForwarder.Source.StartActivity("POST", ActivityKind.Server);
        activity?.SetTag("http.request.method", "POST");
        activity?.SetTag("url.path", request.Target);
        activity?.SetTag("server.address", request.Host);
        activity?.SetTag("network.protocol.version", "1.1");
        activity?.SetTag("flywheel.gateway.path", "fast");
        return activity;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Predict and infer calls are read off the connection by the gateway's fast path; every other request goes through the HTTP pipeline")]
    private partial void LogEnabled();

    internal sealed record ClientOrigin(IPAddress? Address, string Scheme);

    /// <summary>A call the fast path admitted: its request as the pipeline would forward it, its answer written to the connection as it comes.</summary>
    private sealed class ConnectionCall(
        ConnectionContext connection, DataPlaneRequest request, byte[] body, string role, ClientOrigin caller, Activity? activity,
        CancellationToken aborted, CancellationToken closing, string traceIdentifier) : ForwardedCall
    {
        private const int FlushEvery = 64 * 1024;
        private static readonly TimeSpan ProblemSendTimeout = TimeSpan.FromSeconds(10);
        private readonly PipeWriter _output = connection.Transport.Output;
        private bool _started;
        private bool _chunked;
        private long _unflushed;

        public int Status { get; private set; }

        /// <summary>Whether the connection ends after this answer (which then says so).</summary>
        public bool LastOnConnection { get; set; }

        /// <summary>Whether the answer was cut off: the connection must end.</summary>
        public bool Broken { get; private set; }

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
            Write(text.ToString());
        }

        public override async ValueTask WriteBodyAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            if (bytes.IsEmpty)
            {
                return;
            }

            if (_chunked)
            {
                Write($"{bytes.Length:x}\r\n");
            }

            _output.Write(bytes.Span);
            _unflushed += bytes.Length;
            if (_chunked)
            {
                Write("\r\n");
            }

            if (_chunked || _unflushed >= FlushEvery)
            {
                _unflushed = 0;
                await _output.FlushAsync(cancellationToken);
            }
        }

        public override async ValueTask EndResponseAsync(CancellationToken cancellationToken)
        {
            if (_chunked)
            {
                Write("0\r\n\r\n");
            }

            _unflushed = 0;
            await _output.FlushAsync(cancellationToken);
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
            Write($"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {ReasonPhrases.GetReasonPhrase(status)}\r\n" +
                  $"Content-Type: application/problem+json\r\nContent-Length: {json.Length.ToString(CultureInfo.InvariantCulture)}\r\n" +
                  (LastOnConnection || closing.IsCancellationRequested ? "Connection: close\r\n\r\n" : "\r\n"));
            _output.Write(json);
            _started = true;
            // The call's own token may be what ended it; a client that does not read this answer gets a few seconds.
            using var sending = new CancellationTokenSource(ProblemSendTimeout);
            try
            {
                await _output.FlushAsync(sending.Token);
            }
            catch (OperationCanceledException)
            {
                Abort();
            }
        }

        public override void Abort()
        {
            Broken = true;
            connection.Abort();
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

        private void Write(string ascii)
        {
            var span = _output.GetSpan(ascii.Length);
            var written = Encoding.ASCII.GetBytes(ascii, span);
            _output.Advance(written);
            _unflushed += written;
        }
    }
}
