using System.Net.Sockets;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// One retry on another inference destination when the first could not be connected to: the
/// request never reached a worker, so nothing was predicted or logged. A predict that did reach
/// a worker and failed later is not retried. Were a retried request to have been served after
/// all, it would be a second prediction with its own prediction id, never a changed one: predict
/// is idempotent in effect. Needs a rewindable body (the admission middleware buffers data-plane
/// bodies) or none. Runs inside YARP's pipeline before passive health checks, so the failed
/// destination is still reported to them.
/// </summary>
internal static class RetryOnConnectionFailure
{
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        await next();

        var proxy = context.GetReverseProxyFeature();
        if (proxy.Cluster.Config.ClusterId != GatewayRoutes.InferenceCluster || context.Response.HasStarted ||
            context.Features.Get<IForwarderErrorFeature>() is not { Error: ForwarderError.Request, Exception: var exception } ||
            !IsConnectionFailure(exception) || !CanResend(context.Request))
        {
            return;
        }

        var failed = proxy.ProxiedDestination;
        var others = proxy.AvailableDestinations.Where(d => d != failed).ToList();
        if (others.Count == 0)
        {
            others = [.. proxy.AllDestinations.Where(d => d != failed)];
        }

        if (others.Count == 0)
        {
            return;
        }

        context.RequestServices.GetRequiredService<GatewayMetrics>().Retried(GatewayRoutes.InferenceCluster);
        context.Features.Set<IForwarderErrorFeature>(null);
        context.Response.Clear();
        if (context.Request.Body.CanSeek)
        {
            context.Request.Body.Position = 0;
        }

        proxy.AvailableDestinations = [others[Random.Shared.Next(others.Count)]];
        await next();
    }

    private static bool IsConnectionFailure(Exception? exception) => exception switch
    {
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => true,
        HttpRequestException { InnerException: SocketException } => true,
        _ => false,
    };

    private static bool CanResend(HttpRequest request) =>
        request.Body.CanSeek || (request.ContentLength is null or 0 && !request.Headers.TransferEncoding.Any());
}
