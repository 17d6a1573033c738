using System.Globalization;
using System.Net;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Serving;
using Flywheel.Gateway.Limits;
using Flywheel.Gateway.Proxy;
using Flywheel.Security;

namespace Flywheel.Gateway.Traffic;

/// <summary>A predict or infer call the fast path admitted: its model, the version and role the split chose, and a shadow copy if one is due.</summary>
internal sealed record AdmittedCall(string Model, int Version, string Role, ShadowRequest? Shadow);

/// <summary>What the data-plane fast path asks before it forwards a call (<see cref="DataPlaneConnections"/>).</summary>
internal interface IDataPlaneAdmission
{
    /// <summary>
    /// The call admitted, or null when the fast path must leave it to the admission middleware: no
    /// key, an unknown one, a model the key may not call, a limit reached, a model with no
    /// deployment. Only an admitted call is counted against its key.
    /// </summary>
    ValueTask<AdmittedCall?> TryAdmitAsync(DataPlaneRequest request, byte[] body, IPAddress? client, CancellationToken cancellationToken);

    /// <summary>
    /// From the head alone, without a lookup: false when the call cannot be admitted (no key, a key
    /// remembered as unknown, a cached key not allowed the model), so its body is never waited for.
    /// </summary>
    bool MayTake(DataPlaneRequest request);

    /// <summary>The worker answered the call with <paramref name="status"/>.</summary>
    void Completed(AdmittedCall call, int status);
}

/// <summary>
/// The admission middleware's rules for the calls the fast path takes, on the same key cache,
/// limits, deployments and shadow queue (<see cref="AdmissionMiddleware"/>): a key (looked up as the
/// middleware looks it up when it is not cached, within the client address's lookup budget) whose
/// role allows the model, within its rate and quota; the version from the model's deployment, by
/// its sticky key where it has one; a shadow copy queued once a 2xx answer is complete. Every
/// refusal is the middleware's to make, with its ProblemDetails and metrics.
/// </summary>
internal sealed class DataPlaneAdmission(
    ApiKeyStore keys, KeyLimits limits, AnonymousLimits anonymous, DeploymentCatalog deployments, ShadowMirror shadows, GatewayMetrics metrics)
    : IDataPlaneAdmission
{
    public async ValueTask<AdmittedCall?> TryAdmitAsync(DataPlaneRequest request, byte[] body, IPAddress? client, CancellationToken cancellationToken)
    {
        if (request.PresentedKey is not { } presented)
        {
            return null;
        }

        if (!keys.TryGetCached(presented, out var key))
        {
            if (keys.LookupInProgress(presented) is { } inProgress)
            {
                // As the middleware: a lookup in progress for the key answers this call too.
                key = await inProgress.WaitAsync(cancellationToken);
            }
            else
            {
                // As the middleware: the lookup's token is taken first. The answer is cached either way,
                // so the middleware, should it get the call, looks nothing up again.
                if (!anonymous.CheckLookup(ClientAddress.LimitKey(client)).Allowed)
                {
                    return null;
                }

                key = await keys.FindAsync(presented, cancellationToken);
            }
        }

        var model = request.Serving.Model!;
        if (key is null || !key.MayCall(model) || !deployments.TryGet(model, out var deployment) || !limits.Check(key).Allowed)
        {
            return null;
        }

        var assigned = AdmissionMiddleware.Assign(model, deployment, request.Header, body);
        var shadow = deployment.Shadow is { } mirror && mirror.Version != assigned && TrafficSplit.Mirror(mirror.Percent, Random.Shared.NextDouble())
            ? new ShadowRequest(request.Target, body, request.ContentType, model, mirror.Version, presented)
            : null;
        metrics.Admitted(model, assigned.ToString(CultureInfo.InvariantCulture), request.Serving.Call == ServingCall.Predict ? "predict" : "infer");
        return new AdmittedCall(model, assigned, assigned == deployment.Production ? TrafficRoles.Production : TrafficRoles.Canary, shadow);
    }

    public bool MayTake(DataPlaneRequest request) =>
        request.PresentedKey is { } presented &&
        (!keys.TryGetCached(presented, out var key) || (key is not null && key.MayCall(request.Serving.Model!)));

    public void Completed(AdmittedCall call, int status)
    {
        if (call.Shadow is { } shadow && status is >= 200 and < 300)
        {
            shadows.TryEnqueue(shadow);
        }
    }
}
