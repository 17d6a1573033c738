using Flywheel.Contracts;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace Flywheel.Gateway;

/// <summary>
/// The public surface: <c>/api/*</c> to the Registry (drift reports and monitoring policies to the
/// drift monitor), <c>/v1/*</c> and <c>/v2/*</c> to Inference,
/// everything else to the console. Destinations are logical service names that service discovery
/// resolves, so replicas and ports come from the AppHost (or the platform) rather than config.
/// The gateway's own <c>/health</c> and <c>/alive</c> are endpoints of their own and win over the
/// console's catch-all; no service's health endpoint is reachable through the gateway.
/// </summary>
public static class GatewayRoutes
{
    public const string RegistryCluster = "registry";
    public const string InferenceCluster = "inference";
    public const string DriftMonitorCluster = "drift-monitor";
    public const string ConsoleCluster = "console";

    /// <summary>Uploads of up to 1 GB go through /api; they need minutes, not seconds.</summary>
    public static readonly TimeSpan ApiTimeout = TimeSpan.FromMinutes(15);

    /// <summary>Predictions are small; a slow one is a failure the caller should see quickly.</summary>
    public static readonly TimeSpan InferenceTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Console pages; its long-lived Blazor circuit is a WebSocket, which request timeouts leave alone.</summary>
    public static readonly TimeSpan ConsoleTimeout = TimeSpan.FromSeconds(60);

    public const long MaxUploadBytes = 1L << 30;

    public static IReadOnlyList<RouteConfig> Routes { get; } =
    [
        // Data uploads of up to 1 GB stream through /api; the registry bounds each endpoint itself.
        Route("api", "/api/{**rest}", RegistryCluster, ApiTimeout) with { MaxRequestBodySize = MaxUploadBytes },
        // Drift reports and monitoring policies belong to the drift monitor. YARP prefers the route
        // with more literal segments, so these win over /api/{**rest} without an explicit order.
        Route("drift", "/api/models/{model}/drift", DriftMonitorCluster, ApiTimeout),
        Route("drift-rest", "/api/models/{model}/drift/{**rest}", DriftMonitorCluster, ApiTimeout),
        Route("monitoring", "/api/models/{model}/monitoring/{**rest}", DriftMonitorCluster, ApiTimeout),
        Route("inference-v1", "/v1/{**rest}", InferenceCluster, InferenceTimeout),
        Route("inference-v2", "/v2/{**rest}", InferenceCluster, InferenceTimeout),
        // Last resort: anything no other route or gateway endpoint takes.
        Route("console", "/{**rest}", ConsoleCluster, ConsoleTimeout) with { Order = int.MaxValue },
    ];

    public static IReadOnlyList<ClusterConfig> Clusters(GatewayOptions options) =>
    [
        Cluster(RegistryCluster, ResourceNames.Registry, ApiTimeout),
        Cluster(DriftMonitorCluster, ResourceNames.DriftMonitor, ApiTimeout),
        Cluster(InferenceCluster, ResourceNames.Inference, InferenceTimeout) with { HealthCheck = InferenceHealth(options) },
        Cluster(ConsoleCluster, ResourceNames.Console, TimeSpan.FromMinutes(2)),
    ];

    /// <summary>
    /// Inference replicas are probed on <c>/health</c> (active) and judged by their transport
    /// failures (passive); an unhealthy one gets no traffic until it recovers. When every replica
    /// looks unhealthy, all of them are still tried ("panic"): a probe that is wrong about all of
    /// them should not turn every prediction into a 503.
    /// </summary>
    private static HealthCheckConfig InferenceHealth(GatewayOptions options) => new()
    {
        AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyOrPanic,
        Active = new ActiveHealthCheckConfig
        {
            Enabled = true,
            Interval = options.HealthCheckInterval,
            Timeout = options.HealthCheckTimeout,
            Policy = HealthCheckConstants.ActivePolicy.ConsecutiveFailures,
            Path = Microsoft.Extensions.Hosting.Extensions.HealthPath,
        },
        Passive = new PassiveHealthCheckConfig
        {
            Enabled = true,
            Policy = HealthCheckConstants.PassivePolicy.TransportFailureRate,
            ReactivationPeriod = options.HealthCheckInterval * 2,
        },
    };

    private static RouteConfig Route(string id, string path, string cluster, TimeSpan timeout) => new()
    {
        RouteId = id,
        ClusterId = cluster,
        Match = new RouteMatch { Path = path },
        Timeout = timeout,
    };

    private static ClusterConfig Cluster(string id, string service, TimeSpan activityTimeout) => new()
    {
        ClusterId = id,
        Destinations = new Dictionary<string, DestinationConfig>
        {
            // "https+http" prefers HTTPS where the service offers it; service discovery resolves the name.
            [service] = new() { Address = $"https+http://{service}" },
        },
        HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig
        {
            // Time the gateway waits for the next byte from a destination before giving up.
            ActivityTimeout = activityTimeout,
        },
    };
}
