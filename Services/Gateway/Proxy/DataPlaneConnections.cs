using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using Flywheel.Core.Telemetry;
using Flywheel.Gateway.Traffic;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

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
    /// <summary>Marks a connection the blocking front already declined: it goes to Kestrel's HTTP handler as it is.</summary>
    internal static readonly object DeclinedByFront = new();

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
        var https = HttpsConfigured(configuration);
        Enabled = options.Value.FastPath && forwarder.Enabled && !https;
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
        else if (https && options.Value.FastPath)
        {
            LogOffForHttps();
        }
    }

    /// <summary>
    /// Whether the gateway is configured with an HTTPS endpoint (its URLs, HTTPS ports or Kestrel
    /// endpoints). The fast path reads plain HTTP/1.1 before any TLS and cannot tell which endpoint
    /// a connection came in on, so it stays off there: a plain-text call on a TLS port must not be answered.
    /// </summary>
    internal static bool HttpsConfigured(IConfiguration configuration)
    {
        static bool IsHttps(string? url) => url?.Contains("https://", StringComparison.OrdinalIgnoreCase) == true;

        return IsHttps(configuration["urls"]) || IsHttps(configuration["ASPNETCORE_URLS"]) ||
               !string.IsNullOrWhiteSpace(configuration["https_ports"]) || !string.IsNullOrWhiteSpace(configuration["ASPNETCORE_HTTPS_PORTS"]) ||
               configuration.GetSection("Kestrel:Endpoints").GetChildren().Any(endpoint =>
                   IsHttps(endpoint["Url"]) || endpoint.GetSection("Certificate").Exists() || endpoint.GetSection("Sni").Exists());
    }

    public bool Enabled { get; }

    /// <summary>Kestrel's keep-alive limit: how long a connection may wait for its next request.</summary>
    internal TimeSpan KeepAliveTimeout => _keepAlive;

    /// <summary>Kestrel's limit on the time a request's head may take to arrive.</summary>
    internal TimeSpan HeadersTimeout => _headersTimeout;

    /// <summary>The grace period of Kestrel's minimum request body rate (none without one).</summary>
    internal TimeSpan BodyGracePeriod => _minBodyRate?.GracePeriod ?? TimeSpan.Zero;

    /// <summary>How long a call may take (the inference route's timeout).</summary>
    internal TimeSpan CallTimeout => _callTimeout;

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
        if (!Enabled || connection.Items.ContainsKey(DeclinedByFront))
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
            var caller = Caller(connection.RemoteEndPoint, request);
            var admitted = await AdmitAsync(request, body, caller, busy.Token);
            if (admitted is null)
            {
                input.AdvanceTo(whole.Start);
                await HandOffAsync(connection, next, timer);
                return;
            }

            input.AdvanceTo(whole.GetPosition(request.HeadLength + request.ContentLength));
            sequence++;
            Arm(timer, _callTimeout);
            using var activity = StartServerActivity(request);
            var call = new ConnectionCall(connection, request, body, admitted.Role, caller!, activity, busy.Token, closing,
                $"{connection.ConnectionId}:{sequence.ToString("X8", CultureInfo.InvariantCulture)}");
            if (!await AnswerAsync(call, admitted, busy.Token) || closing.IsCancellationRequested)
            {
                // A broken or timed-out answer ends the connection; a stopping server, after the call in progress.
                return;
            }
        }
    }

    /// <summary>
    /// The call's admission by the admission middleware's rules; null when the pipeline should have
    /// it (a caller it cannot tell, a key it must look up and cannot, no destination, a refusal).
    /// </summary>
    internal async ValueTask<AdmittedCall?> AdmitAsync(DataPlaneRequest request, byte[] body, ClientOrigin? caller, CancellationToken cancellationToken)
    {
        if (caller is null || cancellationToken.IsCancellationRequested || !_forwarder.CanTake())
        {
            return null;
        }

        try
        {
            return await _admission.TryAdmitAsync(request, body, caller.Address, cancellationToken);
        }
        catch (Exception exception) when (exception is OperationCanceledException or Npgsql.NpgsqlException or TimeoutException)
        {
            // The key could not be looked up: the middleware tries, and answers what it finds.
            return null;
        }
    }

    /// <summary>
    /// Forwards an admitted call and answers it: the worker's answer, a 503 without a destination, a
    /// 504 when its time is up. False when the connection must end after it.
    /// </summary>
    internal async ValueTask<bool> AnswerAsync(FastPathCall call, AdmittedCall admitted, CancellationToken busy)
    {
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
            if (call.ClientGone || call.ResponseStarted)
            {
                // The client left, or part of the answer went out before the time was up: nothing more can be said.
                call.Abort();
                return false;
            }

            call.LastOnConnection = true;
            await call.WriteProblemAsync(StatusCodes.Status504GatewayTimeout, "The inference service did not answer in time.", "inference",
                $"No answer within {_callTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; the prediction may or may not have been made.");
            return false;
        }

        call.Activity?.SetTag("http.response.status_code", call.Status);
        _admission.Completed(admitted, call.Status);
        _requests.Add(1, new KeyValuePair<string, object?>("outcome", "taken"));
        Interlocked.Increment(ref _taken);
        return !call.Broken;
    }

    /// <summary>Counts a connection handed to Kestrel's HTTP handler.</summary>
    internal void CountHandOff()
    {
        Interlocked.Increment(ref _handedOff);
        _requests.Add(1, new KeyValuePair<string, object?>("outcome", "handed_off"));
    }

    /// <summary>A timeout for the timer; Kestrel's "no limit" (<see cref="TimeSpan.MaxValue"/>) and anything a timer cannot hold is none.</summary>
    private static void Arm(CancellationTokenSource timer, TimeSpan timeout) =>
        timer.CancelAfter(timeout <= TimeSpan.Zero || timeout >= MaxTimer ? Timeout.InfiniteTimeSpan : timeout);

    internal static readonly TimeSpan MaxTimer = TimeSpan.FromDays(1);

    /// <summary>Two timeouts one after the other; none when either is none.</summary>
    internal static TimeSpan Sum(TimeSpan first, TimeSpan second) =>
        first <= TimeSpan.Zero || second <= TimeSpan.Zero || first >= MaxTimer || second >= MaxTimer ? Timeout.InfiniteTimeSpan : first + second;

    /// <summary>How long a body may take at Kestrel's minimum request body rate (none without one).</summary>
    internal TimeSpan BodyTime(int length) =>
        _minBodyRate is { } rate ? rate.GracePeriod + TimeSpan.FromSeconds(length / rate.BytesPerSecond) : Timeout.InfiniteTimeSpan;

    private async Task HandOffAsync(ConnectionContext connection, ConnectionDelegate next, CancellationTokenSource timer)
    {
        // Kestrel keeps its own time from here.
        timer.CancelAfter(Timeout.InfiniteTimeSpan);
        CountHandOff();
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
    /// The request at the start of <paramref name="bytes"/>, when it is one the fast path would take
    /// (<see cref="HeadParse.NotTaken"/> also for a key it would not admit, or a request larger than
    /// Kestrel would buffer).
    /// </summary>
    internal HeadParse Parse(ReadOnlySpan<byte> bytes, out DataPlaneRequest? request)
    {
        var parse = DataPlaneRequest.TryParse(bytes, _maxBodyBytes, out request);
        return parse == HeadParse.Parsed && (!_admission.MayTake(request!) || request!.HeadLength + (long)request.ContentLength > _maxBuffered)
            ? HeadParse.NotTaken
            : parse;
    }

    /// <summary>
    /// The client's address and scheme as ASP.NET Core's forwarded headers would leave them (the last
    /// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> entries, when they are switched on), or null
    /// when the pipeline should read them.
    /// </summary>
    internal ClientOrigin? Caller(EndPoint? remote, DataPlaneRequest request)
    {
        var address = (remote as IPEndPoint)?.Address;
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

    /// <summary>The call's server span, when it is one of those traced (predictions at the configured ratio, unless the caller decided).</summary>
    internal Activity? StartServerActivity(DataPlaneRequest request)
    {
        if (request.TraceParent is not null || !PredictionTracing.Keep(isPrediction: true, callerSampled: false, _traceRatio, Random.Shared.NextDouble()))
        {
            return null;
        }

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

    [LoggerMessage(Level = LogLevel.Information, Message = "An HTTPS endpoint is configured: the data-plane fast path, which reads plain HTTP/1.1 only, is off and every request goes through the HTTP pipeline")]
    private partial void LogOffForHttps();

    internal sealed record ClientOrigin(IPAddress? Address, string Scheme);

    /// <summary>A call the fast path admitted on a Kestrel connection: its answer goes to the connection's transport pipe.</summary>
    private sealed class ConnectionCall(
        ConnectionContext connection, DataPlaneRequest request, byte[] body, string role, ClientOrigin caller, Activity? activity,
        CancellationToken aborted, CancellationToken closing, string traceIdentifier)
        : FastPathCall(request, body, role, caller, activity, aborted, closing, traceIdentifier)
    {
        private static readonly TimeSpan ProblemSendTimeout = TimeSpan.FromSeconds(10);
        private readonly PipeWriter _output = connection.Transport.Output;

        public override bool ClientGone => connection.ConnectionClosed.IsCancellationRequested;

        protected override void Write(ReadOnlySpan<byte> bytes) => _output.Write(bytes);

        protected override async ValueTask FlushAsync(CancellationToken cancellationToken) => await _output.FlushAsync(cancellationToken);

        protected override async ValueTask FlushProblemAsync()
        {
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

        protected override void AbortConnection() => connection.Abort();
    }
}
