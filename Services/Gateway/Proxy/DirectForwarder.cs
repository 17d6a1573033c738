using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// Forwards an admitted data-plane request (its body already buffered) to an inference worker
/// without YARP's forwarder and <c>HttpClient</c>: the request goes out in one write on a kept-alive
/// HTTP/1.1 connection, and the answer is read and passed on as it comes. A request that is alone
/// in the gateway, to a worker on this host, waits for the answer on a blocking connection, so the
/// kernel wakes its thread directly when the answer arrives; concurrent ones use asynchronous
/// socket calls on connections of their own (docs/benchmarks.md).
/// <para>
/// YARP stays the source of truth for the inference cluster: its destinations (from service
/// discovery), their active and passive health, and its passive health policy, to which every
/// exchange is reported as YARP would report it. A destination that cannot be connected to is
/// retried once on another; a kept-alive connection that the worker closed before answering is
/// retried once on a new one. Everything it does not take (no destination, HTTPS, a header it
/// cannot write) goes to YARP as before.
/// </para>
/// </summary>
public sealed partial class DirectForwarder : IDisposable
{
    public static readonly ActivitySource Source = new("Flywheel.Gateway");

    /// <summary>How long connecting to a worker may take; a local one answers or refuses at once.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    internal static readonly HashSet<string> RequestHeadersNotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Expect",
        "Content-Length", "traceparent", "tracestate", "baggage", "Request-Id", "Correlation-Context",
        "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
    };

    internal static readonly HashSet<string> ResponseHeadersNotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Trailer", "Content-Length",
    };

    private readonly IProxyStateLookup _proxy;
    private readonly WorkerConnectionPool _pool;
    private readonly Dictionary<string, IPassiveHealthCheckPolicy> _passivePolicies;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<DirectForwarder> _logger;
    private readonly ConcurrentDictionary<string, DnsEndPoint?> _endpoints = new(StringComparer.Ordinal);
    private int _inFlight;

    public DirectForwarder(
        IProxyStateLookup proxy,
        LocalSocketConnector connector,
        IEnumerable<IPassiveHealthCheckPolicy> passivePolicies,
        GatewayMetrics metrics,
        IOptions<GatewayOptions> options,
        ILogger<DirectForwarder> logger)
    {
        _proxy = proxy;
        _passivePolicies = passivePolicies.ToDictionary(policy => policy.Name, StringComparer.OrdinalIgnoreCase);
        _metrics = metrics;
        _logger = logger;
        Enabled = options.Value.DirectForwarding;
        _pool = new WorkerConnectionPool(connector, options.Value.DirectConnectionIdleTimeout, maxIdlePerEndpoint: 256);
        if (Enabled)
        {
            LogEnabled();
        }
    }

    public bool Enabled { get; }

    /// <summary>Idle connections kept for the endpoint (for tests and diagnostics).</summary>
    public int IdleConnections(DnsEndPoint endpoint) => _pool.IdleCount(endpoint);

    /// <summary>
    /// Forwards the request and writes the worker's answer (or a 502) to the caller. False when it
    /// did not take the request, which then goes to YARP.
    /// </summary>
    public async ValueTask<bool> TryForwardAsync(HttpContext context, byte[] body)
    {
        if (!Enabled)
        {
            return false;
        }

        var request = context.Request;
        var target = request.PathBase.ToUriComponent() + request.Path.ToUriComponent() + request.QueryString.ToUriComponent();
        return CanForward(request, target) && await ForwardAsync(new ContextCall(context, target, body));
    }

    /// <summary>Whether a call would find a destination it can reach directly now.</summary>
    internal bool CanTake() =>
        Enabled && _proxy.TryGetCluster(GatewayRoutes.InferenceCluster, out var cluster) &&
        Candidates(cluster).Any(destination => EndpointOf(destination) is not null);

    private static IReadOnlyList<DestinationState> Candidates(ClusterState cluster) =>
        cluster.DestinationsState.AvailableDestinations is { Count: > 0 } available ? available : cluster.DestinationsState.AllDestinations;

    /// <summary>
    /// Forwards the call and writes the worker's answer (or a 502) to its caller. False when it did
    /// not take the call: no destination it can reach directly.
    /// </summary>
    internal async ValueTask<bool> ForwardAsync(ForwardedCall call)
    {
        if (!Enabled || !_proxy.TryGetCluster(GatewayRoutes.InferenceCluster, out var cluster))
        {
            return false;
        }

        // The healthy destinations it can reach directly; all of them only when none is healthy (YARP's
        // "panic"). When the healthy ones are all beyond it (HTTPS), YARP takes the call.
        var destinations = Reachable(Candidates(cluster));
        if (destinations.Count == 0)
        {
            return false;
        }

        var destination = destinations.Count == 1 ? destinations[0] : destinations[Random.Shared.Next(destinations.Count)];
        if (EndpointOf(destination) is not { } endpoint)
        {
            return false;
        }

        var alone = Interlocked.Increment(ref _inFlight) == 1;
        var started = Stopwatch.GetTimestamp();
        var ok = false;
        try
        {
            var failure = await ExchangeAsync(call, cluster, destination, endpoint, alone);
            if (failure is { Error: ForwarderError.Request, MayHaveReachedWorker: false } && !call.ResponseStarted &&
                destinations.Where(other => other != destination && EndpointOf(other) is not null).ToList() is { Count: > 0 } others)
            {
                // Nothing reached a worker: another one gets the request.
                var next = others[Random.Shared.Next(others.Count)];
                _metrics.Retried(GatewayRoutes.InferenceCluster);
                call.ClearError();
                failure = await ExchangeAsync(call, cluster, next, EndpointOf(next)!, alone);
            }

            if (failure is not null && !call.ResponseStarted && !call.Aborted.IsCancellationRequested)
            {
                await call.WriteProblemAsync(StatusCodes.Status502BadGateway, "The inference service did not answer.", "inference",
                    failure.MayHaveReachedWorker
                        ? "The connection to the inference worker failed before it answered; the prediction may or may not have been made."
                        : "No inference worker could be reached; nothing was predicted.");
            }

            ok = failure is null && !call.Aborted.IsCancellationRequested;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _metrics.Forwarded(Stopwatch.GetElapsedTime(started), ok);
        }

        return true;
    }

    private IReadOnlyList<DestinationState> Reachable(IReadOnlyList<DestinationState> destinations)
    {
        foreach (var destination in destinations)
        {
            if (EndpointOf(destination) is null)
            {
                return [.. destinations.Where(candidate => EndpointOf(candidate) is not null)];
            }
        }

        return destinations;
    }

    /// <summary>One exchange with one destination; null when the worker's whole answer reached the caller.</summary>
    private async ValueTask<Failure?> ExchangeAsync(
        ForwardedCall call, ClusterState cluster, DestinationState destination, DnsEndPoint endpoint, bool alone)
    {
        var aborted = call.Aborted;
        using var activity = call.Traced ? Source.StartActivity("POST", ActivityKind.Client) : null;
        activity?.SetTag("http.request.method", "POST");
        activity?.SetTag("server.address", endpoint.Host);
        activity?.SetTag("server.port", endpoint.Port);
        using var request = call.BuildRequest(endpoint, activity ?? Activity.Current);

        // A blocking connect answers at once only on this host.
        var blocking = (alone || call.MayBlock) && LocalSocketConnector.IsLoopback(endpoint.Host);
        var connection = _pool.TakeIdle(endpoint, blocking);
        var sent = false;
        for (var attempt = 0; ; attempt++)
        {
            var fresh = connection is null;
            if (connection is null)
            {
                using var connecting = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                connecting.CancelAfter(ConnectTimeout);
                try
                {
                    connection = await _pool.ConnectAsync(endpoint, blocking, connecting.Token);
                }
                catch (Exception exception) when (exception is SocketException or IOException or OperationCanceledException && !aborted.IsCancellationRequested)
                {
                    activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                    LogConnectFailed(endpoint.Host, endpoint.Port, exception.Message);
                    // After a kept-alive connection failed mid-exchange, the request may have reached that worker.
                    return Fail(call, cluster, destination, new Failure(ForwarderError.Request, exception, MayHaveReachedWorker: sent));
                }
            }

            var received = false;
            try
            {
                bool reusable;
                using (aborted.UnsafeRegister(static state => ((WorkerConnection)state!).Abort(), connection))
                {
                    sent = true;
                    await connection.SendAsync(request.Written, aborted);
                    var head = await ReadHeadAsync(connection, aborted);
                    if (head is null && !fresh && attempt == 0)
                    {
                        // The worker closed a kept-alive connection before reading this request: a new one gets it.
                        connection.Dispose();
                        connection = null;
                        continue;
                    }

                    received = true;
                    if (head is null)
                    {
                        throw new WorkerProtocolException("The worker closed the connection without answering.");
                    }

                    activity?.SetTag("http.response.status_code", head.Status);
                    call.StartResponse(head);
                    await CopyBodyAsync(connection, head, call, aborted);
                    await call.EndResponseAsync(aborted);
                    reusable = head.KeepAlive;
                }

                // The abort registration is gone: nothing can close this connection under the next request.
                if (reusable && !aborted.IsCancellationRequested)
                {
                    _pool.Return(connection);
                }
                else
                {
                    connection.Dispose();
                }

                connection = null;
                Report(call, cluster, destination, failure: null);
                return null;
            }
            catch (Exception exception) when (exception is SocketException or IOException or ObjectDisposedException or WorkerProtocolException)
            {
                connection?.Dispose();
                connection = null;
                if (aborted.IsCancellationRequested)
                {
                    // The caller left, or the route's timeout passed: the request timeouts middleware answers 504 for the latter.
                    throw new OperationCanceledException(aborted);
                }

                if (!received && !fresh && attempt == 0 && exception is not WorkerProtocolException)
                {
                    // A kept-alive connection that broke before any answer: once more on a new one.
                    continue;
                }

                activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                LogExchangeFailed(endpoint.Host, endpoint.Port, exception.Message);
                var started = call.ResponseStarted;
                if (started)
                {
                    // Part of the answer went out: the caller must see a broken response, not a short one.
                    call.Abort();
                }

                return Fail(call, cluster, destination,
                    new Failure(started ? ForwarderError.ResponseBodyDestination : ForwarderError.Request, exception, MayHaveReachedWorker: true));
            }
            catch
            {
                connection?.Dispose();
                throw;
            }
        }
    }

    private static async ValueTask<ResponseHead?> ReadHeadAsync(WorkerConnection connection, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (Http1.TryParseHead(connection.Buffered, out var head, out var consumed))
            {
                connection.Consume(consumed);
                if (head!.Status is >= 100 and < 200)
                {
                    // An interim answer (this forwarder sends no Expect): the final one follows.
                    continue;
                }

                return head;
            }

            var hadBytes = !connection.Buffered.IsEmpty;
            if (await connection.FillAsync(cancellationToken) == 0)
            {
                return hadBytes ? throw new WorkerProtocolException("The worker closed the connection in the middle of its response head.") : null;
            }
        }
    }

    private static async ValueTask CopyBodyAsync(WorkerConnection connection, ResponseHead head, ForwardedCall call, CancellationToken cancellationToken)
    {
        if (!head.HasBody)
        {
            return;
        }

        if (head.ContentLength is { } length)
        {
            await CopyAsync(connection, call, length, cancellationToken);
            return;
        }

        if (!head.Chunked)
        {
            // Delimited by the end of the connection.
            while (true)
            {
                if (!connection.Buffered.IsEmpty)
                {
                    await call.WriteBodyAsync(connection.BufferedMemory, cancellationToken);
                    connection.Consume(connection.Buffered.Length);
                }

                if (await connection.FillAsync(cancellationToken) == 0)
                {
                    return;
                }
            }
        }

        while (true)
        {
            long size;
            int consumed;
            while (!Http1.TryParseChunkSize(connection.Buffered, out size, out consumed))
            {
                await FillOrThrowAsync(connection, cancellationToken);
            }

            connection.Consume(consumed);
            if (size == 0)
            {
                while (!Http1.TryConsumeTrailers(connection.Buffered, out consumed))
                {
                    await FillOrThrowAsync(connection, cancellationToken);
                }

                connection.Consume(consumed);
                return;
            }

            await CopyAsync(connection, call, size, cancellationToken);
            while (connection.Buffered.Length < 2)
            {
                await FillOrThrowAsync(connection, cancellationToken);
            }

            if (!connection.Buffered[..2].SequenceEqual("\r\n"u8))
            {
                throw new WorkerProtocolException("A chunk is longer than its size says.");
            }

            connection.Consume(2);
        }
    }

    private static async ValueTask CopyAsync(WorkerConnection connection, ForwardedCall call, long length, CancellationToken cancellationToken)
    {
        var remaining = length;
        while (remaining > 0)
        {
            if (connection.Buffered.IsEmpty)
            {
                await FillOrThrowAsync(connection, cancellationToken);
            }

            var take = (int)Math.Min(remaining, connection.Buffered.Length);
            await call.WriteBodyAsync(connection.BufferedMemory[..take], cancellationToken);
            connection.Consume(take);
            remaining -= take;
        }
    }

    private static async ValueTask FillOrThrowAsync(WorkerConnection connection, CancellationToken cancellationToken)
    {
        if (await connection.FillAsync(cancellationToken) == 0)
        {
            throw new WorkerProtocolException("The worker closed the connection before its response ended.");
        }
    }

    /// <summary>The request as YARP would send it: the caller's headers but hop-by-hop ones, the destination as host, X-Forwarded-*, the trace context.</summary>
    internal static RequestBytes BuildRequest(HttpContext context, string target, byte[] body, DnsEndPoint endpoint, Activity? activity)
    {
        var request = context.Request;
        var bytes = new RequestBytes(512 + body.Length);
        bytes.RequestLine(request.Method, target);
        bytes.Host(endpoint);
        foreach (var (name, values) in request.Headers)
        {
            if (RequestHeadersNotForwarded.Contains(name))
            {
                continue;
            }

            foreach (var value in values)
            {
                // CanForward checked every value already.
                bytes.TryHeader(name, value);
            }
        }

        bytes.Forwarded(context.Connection.RemoteIpAddress, request.Scheme, request.Host.HasValue ? request.Host.ToUriComponent() : null);
        bytes.TraceAndBody(activity, body);
        return bytes;
    }

    /// <summary>
    /// Whether the target and every header can be written as they are. A request with one that
    /// cannot (beyond ASCII, or a control character) goes to YARP, which encodes or refuses it as it
    /// always has.
    /// </summary>
    private static bool CanForward(HttpRequest request, string target)
    {
        if (!Http1.IsRequestTarget(target) || !Http1.IsToken(request.Method))
        {
            return false;
        }

        foreach (var (name, values) in request.Headers)
        {
            if (RequestHeadersNotForwarded.Contains(name))
            {
                continue;
            }

            foreach (var value in values)
            {
                if (!RequestBytes.CanWrite(name, value))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private Failure Fail(ForwardedCall call, ClusterState cluster, DestinationState destination, Failure failure)
    {
        Report(call, cluster, destination, failure);
        return failure;
    }

    /// <summary>Tells YARP's passive health policy for the cluster how the exchange went, as YARP's own forwarder does after each request.</summary>
    private void Report(ForwardedCall call, ClusterState cluster, DestinationState destination, Failure? failure)
    {
        var context = call.HealthContext(failure is null ? null : new ForwardError(failure.Error, failure.Exception));
        if (cluster.Model.Config.HealthCheck?.Passive is { Enabled: true } passive &&
            _passivePolicies.TryGetValue(passive.Policy ?? HealthCheckConstants.PassivePolicy.TransportFailureRate, out var policy))
        {
            policy.RequestProxied(context, cluster, destination);
        }
    }

    private DnsEndPoint? EndpointOf(DestinationState destination) =>
        _endpoints.GetOrAdd(destination.Model.Config.Address, static address =>
            // Service discovery resolves the destinations to plain http://host:port addresses locally; HTTPS stays with YARP.
            Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp ? new DnsEndPoint(uri.Host, uri.Port) : null);

    public void Dispose() => _pool.Dispose();

    internal sealed record Failure(ForwarderError Error, Exception Exception, bool MayHaveReachedWorker);

    internal sealed class ForwardError(ForwarderError error, Exception exception) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception { get; } = exception;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Data-plane requests go to the inference workers directly (kept-alive HTTP/1.1), not through YARP's forwarder")]
    private partial void LogEnabled();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connecting to the inference worker at {Host}:{Port} failed: {Reason}")]
    private partial void LogConnectFailed(string host, int port, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The exchange with the inference worker at {Host}:{Port} failed: {Reason}")]
    private partial void LogExchangeFailed(string host, int port, string reason);
}
