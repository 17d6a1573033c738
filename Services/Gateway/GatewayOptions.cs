namespace Flywheel.Gateway;

/// <summary>The gateway's limits and data-plane behaviour (<c>Flywheel:Gateway</c>).</summary>
public sealed class GatewayOptions
{
    public const string Section = "Flywheel:Gateway";

    /// <summary>A key's rate when its row sets none, per gateway replica; the burst is one second's worth.</summary>
    public int DefaultRequestsPerSecond { get; set; } = 1000;

    /// <summary>A key's requests per UTC day when its row sets none; null means unlimited.</summary>
    public long? DefaultDailyQuota { get; set; }

    /// <summary>
    /// Requests per second from one client address (an IPv6 client by its /64), per gateway
    /// replica, that no known key vouches for: no key, or an unknown or revoked one. The burst is
    /// one second's worth; 0 turns the limit off. The address is the connection's peer as ASP.NET
    /// Core's forwarded headers leave it: the services run with them on
    /// (<c>ASPNETCORE_FORWARDEDHEADERS_ENABLED</c>), so behind Azure Container Apps' ingress it is the
    /// address the ingress saw the client at.
    /// </summary>
    public int AnonymousRequestsPerSecond { get; set; } = 100;

    /// <summary>
    /// Lookups per second, from one client address per gateway replica, of keys the gateway has
    /// not cached (each found key is then trusted for <see cref="KeyCacheDuration"/>, each unknown
    /// one remembered for 5 s): the most a client guessing keys costs the database. The burst is
    /// one second's worth; 0 turns the limit off.
    /// </summary>
    public int KeyLookupsPerSecond { get; set; } = 20;

    /// <summary>Largest predict, infer or feedback body; larger ones get 413 without reaching a worker.</summary>
    public long MaxDataPlaneBodyBytes { get; set; } = 4L << 20;

    /// <summary>How long a looked-up key is trusted without asking the database again (a change notification evicts it sooner).</summary>
    public TimeSpan KeyCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often quota counts are added to Redis; also the window in which a quota can be overshot.</summary>
    public TimeSpan QuotaFlushInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Mirrored requests waiting to be sent; beyond this they are dropped (and counted), never queued without bound.</summary>
    public int ShadowQueueCapacity { get; set; } = 1000;

    /// <summary>Mirrored requests in flight at once.</summary>
    public int ShadowConcurrency { get; set; } = 4;

    /// <summary>How often each inference destination's <c>/health</c> is probed.</summary>
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Runs each request on the thread-pool thread that read it from the socket (Kestrel's
    /// <c>UnsafePreferInlineScheduling</c>), instead of handing it to another one: a wake-up less
    /// per request, 0.06–0.08 ms of the gateway hop on a 2-core machine, for a tenth to a quarter
    /// less throughput at saturation (docs/benchmarks.md). Socket completions still reach the
    /// thread pool first, so no request runs on the socket event thread, and nothing on the
    /// gateway's path blocks a thread.
    /// </summary>
    public bool InlineScheduling { get; set; } = true;

    /// <summary>
    /// Where services on this host keep their local sockets (<c>{port}.sock</c>, see
    /// <see cref="LocalSockets"/>): a destination at a loopback address whose socket is there is
    /// connected to through it instead of TCP. Null (the default outside a local run): TCP only.
    /// </summary>
    public string? LocalSocketDirectory { get; set; }

    /// <summary>
    /// Forwards admitted predict, infer and feedback calls to the inference workers on kept-alive
    /// HTTP/1.1 connections of the gateway's own instead of through YARP's forwarder and
    /// <c>HttpClient</c>; a call that is alone, to a worker on this host, waits for the answer on a
    /// blocking connection. YARP keeps the destinations, their health and every other route
    /// (docs/serving.md, "Traffic").
    /// </summary>
    public bool DirectForwarding { get; set; } = true;

    /// <summary>
    /// Reads predict and infer calls in their plainest form straight off the connection, admits
    /// them by the admission middleware's rules and forwards them directly, without ASP.NET Core's
    /// HTTP pipeline; at the first request it does not take, the connection goes to the pipeline
    /// (docs/serving.md, "The fast path"). Needs <see cref="DirectForwarding"/>.
    /// </summary>
    public bool FastPath { get; set; } = true;

    /// <summary>
    /// How many client connections the fast path serves at a time on threads of their own, with
    /// blocking socket calls, while their requests are calls it takes: the kernel wakes the thread
    /// when a request arrives and when the worker answers, with no event loop or thread pool in
    /// between (docs/serving.md, "Its own TCP front"). Connections beyond it, and every connection
    /// once a request is not the fast path's, go to Kestrel's socket transport. 0 (the default):
    /// every connection goes to Kestrel. Measured on a 2-core machine it shortened the hop only in
    /// its fastest state and cost a ninth of the gateway's throughput at saturation
    /// (docs/benchmarks.md), so it is off unless turned on. Needs <see cref="FastPath"/>.
    /// </summary>
    public int FastPathThreads { get; set; }

    /// <summary>
    /// How long a connection may wait for its next request on its own thread; after that it goes to
    /// Kestrel untouched (where the connection middleware still takes its calls), so that idle
    /// clients do not hold the front's threads.
    /// </summary>
    public TimeSpan FastPathThreadIdleTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an idle direct connection to a worker is kept for the next call.</summary>
    public TimeSpan DirectConnectionIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public IEnumerable<string> Validate()
    {
        if (DefaultRequestsPerSecond < 1)
        {
            yield return "DefaultRequestsPerSecond must be at least 1.";
        }

        if (AnonymousRequestsPerSecond < 0 || KeyLookupsPerSecond < 0)
        {
            yield return "AnonymousRequestsPerSecond and KeyLookupsPerSecond must be 0 (off) or more.";
        }

        if (DefaultDailyQuota is < 1)
        {
            yield return "DefaultDailyQuota must be at least 1 when set.";
        }

        if (MaxDataPlaneBodyBytes < 1024)
        {
            yield return "MaxDataPlaneBodyBytes must be at least 1024.";
        }

        if (KeyCacheDuration < TimeSpan.Zero || KeyCacheDuration > TimeSpan.FromMinutes(5))
        {
            yield return "KeyCacheDuration must be between 0 and 5 minutes: a revoked key must stop working soon even without a notification.";
        }

        if (QuotaFlushInterval < TimeSpan.FromMilliseconds(10) || QuotaFlushInterval > TimeSpan.FromSeconds(10))
        {
            yield return "QuotaFlushInterval must be between 10 ms and 10 s.";
        }

        if (DirectConnectionIdleTimeout < TimeSpan.FromSeconds(1) || DirectConnectionIdleTimeout > TimeSpan.FromMinutes(2))
        {
            yield return "DirectConnectionIdleTimeout must be between 1 s and 2 minutes (a worker closes its own idle connections after two).";
        }

        if (FastPathThreads is < 0 or > 4096)
        {
            yield return "FastPathThreads must be between 0 (off) and 4096.";
        }

        if (FastPathThreadIdleTimeout < TimeSpan.FromMilliseconds(100) || FastPathThreadIdleTimeout > TimeSpan.FromMinutes(2))
        {
            yield return "FastPathThreadIdleTimeout must be between 100 ms and 2 minutes.";
        }

        if (ShadowQueueCapacity < 1 || ShadowConcurrency < 1)
        {
            yield return "ShadowQueueCapacity and ShadowConcurrency must be at least 1.";
        }

        if (!string.IsNullOrWhiteSpace(LocalSocketDirectory) && !Path.IsPathFullyQualified(LocalSocketDirectory))
        {
            yield return "LocalSocketDirectory must be an absolute path when set.";
        }

        if (HealthCheckInterval < TimeSpan.FromSeconds(1) || HealthCheckTimeout <= TimeSpan.Zero || HealthCheckTimeout > HealthCheckInterval)
        {
            yield return "HealthCheckInterval must be at least 1 s and HealthCheckTimeout positive and no longer than the interval.";
        }
    }
}
