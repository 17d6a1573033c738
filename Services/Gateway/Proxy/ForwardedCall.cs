using System.Diagnostics;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// One data-plane call as <see cref="DirectForwarder"/> carries it: how its request is written for a
/// destination, and where the worker's answer goes. The gateway has two: a request that ASP.NET
/// Core's pipeline admitted (<see cref="ContextCall"/>), and one the data-plane fast path admitted
/// straight off its connection (<see cref="DataPlaneConnections"/>).
/// </summary>
internal abstract class ForwardedCall
{
    /// <summary>Cancelled when the caller leaves or the call's time is up.</summary>
    public abstract CancellationToken Aborted { get; }

    /// <summary>Whether any of the answer has been written to the caller: from then on a failure can only break the response.</summary>
    public abstract bool ResponseStarted { get; }

    /// <summary>
    /// Whether the call's thread is its own to block: the exchange with a worker on this host then
    /// waits on a blocking connection even when other calls are in flight.
    /// </summary>
    public virtual bool MayBlock => false;

    /// <summary>Whether the exchange gets a client span of its own (the sampler then decides whether it is recorded).</summary>
    public abstract bool Traced { get; }

    /// <summary>The request as it goes to the worker at <paramref name="endpoint"/>, with <paramref name="activity"/>'s trace context.</summary>
    public abstract RequestBytes BuildRequest(DnsEndPoint endpoint, Activity? activity);

    /// <summary>The worker's status and headers (but hop-by-hop ones) to the caller; the body follows.</summary>
    public abstract void StartResponse(ResponseHead head);

    public abstract ValueTask WriteBodyAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);

    /// <summary>The worker's answer is complete.</summary>
    public abstract ValueTask EndResponseAsync(CancellationToken cancellationToken);

    /// <summary>The gateway's own answer, as a ProblemDetails with the field at fault.</summary>
    public abstract ValueTask WriteProblemAsync(int status, string title, string field, string message);

    /// <summary>Ends the caller's connection: a response already begun must not look complete.</summary>
    public abstract void Abort();

    /// <summary>The context YARP's passive health policy reads the exchange's outcome from.</summary>
    public abstract HttpContext HealthContext(IForwarderErrorFeature? error);

    /// <summary>Forgets a failed exchange's error before the call is tried on another destination.</summary>
    public abstract void ClearError();
}

/// <summary>A request ASP.NET Core's pipeline admitted: the answer goes through its <see cref="HttpResponse"/>.</summary>
internal sealed class ContextCall(HttpContext context, string target, byte[] body) : ForwardedCall
{
    public override CancellationToken Aborted => context.RequestAborted;

    public override bool ResponseStarted => context.Response.HasStarted;

    public override bool Traced => true;

    public override RequestBytes BuildRequest(DnsEndPoint endpoint, Activity? activity) =>
        DirectForwarder.BuildRequest(context, target, body, endpoint, activity);

    public override void StartResponse(ResponseHead head)
    {
        var response = context.Response;
        response.StatusCode = head.Status;
        foreach (var (name, value) in head.Headers)
        {
            if (!DirectForwarder.ResponseHeadersNotForwarded.Contains(name))
            {
                response.Headers.Append(name, value);
            }
        }

        if (head.HasBody && head.ContentLength is { } length)
        {
            response.ContentLength = length;
        }
    }

    public override ValueTask WriteBodyAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        context.Response.Body.WriteAsync(bytes, cancellationToken);

    public override ValueTask EndResponseAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask WriteProblemAsync(int status, string title, string field, string message)
    {
        context.Response.Clear();
        return Problems.WriteAsync(context, status, title, field, message);
    }

    public override void Abort() => context.Abort();

    public override HttpContext HealthContext(IForwarderErrorFeature? error)
    {
        if (error is not null)
        {
            context.Features.Set(error);
        }

        return context;
    }

    public override void ClearError() => context.Features.Set<IForwarderErrorFeature>(null);
}
