using System.Globalization;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Serving;
using Flywheel.Security;
using Flywheel.Gateway.Limits;
using Flywheel.Gateway.Proxy;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Flywheel.Gateway.Traffic;

/// <summary>
/// What the gateway decides before a request is proxied. Every request that presents a known key
/// is held to that key's rate and quota (any route; /api is still authenticated by the registry,
/// which answers 401 for a key the gateway does not know); every other request, to its client
/// address's anonymous rate (<see cref="AnonymousLimits"/>). Data-plane calls (POST under /v1 and
/// /v2) also need a key whose role allows the model, a body within the limit, and, for predict
/// and infer, get their version from the model's deployment: the split is read from the
/// catalog per request, so traffic changes apply without a restart. Serving headers a client
/// sends are removed; the gateway sets its own.
/// </summary>
public sealed class AdmissionMiddleware(
    RequestDelegate next,
    ApiKeyStore keys,
    KeyLimits limits,
    AnonymousLimits anonymous,
    DeploymentCatalog deployments,
    ShadowMirror shadows,
    DirectForwarder direct,
    GatewayMetrics metrics,
    IOptions<GatewayOptions> options)
{
    private readonly long _maxBodyBytes = options.Value.MaxDataPlaneBodyBytes;

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var dataPlane = request.Path.StartsWithSegments("/v1") || request.Path.StartsWithSegments("/v2");
        if (dataPlane)
        {
            foreach (var header in ServingHeaders.All)
            {
                request.Headers.Remove(header);
            }
        }

        var guarded = dataPlane && HttpMethods.IsPost(request.Method);
        var presented = ApiKeyStore.Presented(request);
        CallerKey? key = null;
        string? address = null;
        if (presented is not null && !keys.TryGetCached(presented, out key))
        {
            if (keys.LookupInProgress(presented) is { } inProgress)
            {
                // Another request is looking this key up: its answer is this one's too, for no lookup of its own.
                key = await inProgress.WaitAsync(context.RequestAborted);
            }
            else
            {
                // Only the database can say whether this key exists. Lookups have a budget of their own
                // per client, taken before the lookup, so guessing keys costs the database no more than
                // that rate, however many guesses are in flight; a valid key needs one lookup in 30 s.
                address = AnonymousLimits.AddressOf(context);
                if (anonymous.CheckLookup(address) is { Allowed: false } lookups)
                {
                    await RefuseAsync(context, lookups,
                        $"Keys this gateway has not seen lately are looked up at most {anonymous.LookupsPerSecond} times a second for one client address; retry in {lookups.RetryAfterSeconds} s.");
                    return;
                }

                key = await keys.FindAsync(presented, context.RequestAborted);
            }
        }

        if (key is null && anonymous.CheckRequest(address ?? AnonymousLimits.AddressOf(context)) is { Allowed: false } refusedAnonymous)
        {
            await RefuseAsync(context, refusedAnonymous,
                $"Requests without a known API key are limited to {anonymous.RequestsPerSecond} per second from one client address; retry in {refusedAnonymous.RetryAfterSeconds} s.");
            return;
        }

        var serving = guarded ? ServingPath.Parse(request.Path.Value ?? "") : default;
        if (guarded && key is null)
        {
            metrics.AuthFailed(presented is null ? "missing" : "unknown");
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Problems.WriteAsync(context, StatusCodes.Status401Unauthorized, "An API key is required.", "authorization",
                presented is null
                    ? "Present an API key as 'Authorization: Bearer <key>' or 'X-Api-Key'."
                    : "The API key is unknown or revoked.");
            return;
        }

        if (guarded && !key!.MayCall(serving.Model))
        {
            metrics.AuthFailed("forbidden");
            await Problems.WriteAsync(context, StatusCodes.Status403Forbidden, "The API key may not call this model.", "authorization",
                $"The key '{key.Name}' is not allowed to call model '{serving.Model ?? "(none)"}'.");
            return;
        }

        if (key is not null && limits.Check(key) is { Allowed: false } refused)
        {
            metrics.Limited(refused.Limit!);
            context.Response.Headers.RetryAfter = refused.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            await Problems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests.", "api_key",
                refused.Limit == LimitDecision.Rate
                    ? $"The key's rate of requests per second is used up; retry in {refused.RetryAfterSeconds} s."
                    : $"The key's daily quota is used up; it resets at 00:00 UTC, in {refused.RetryAfterSeconds} s.");
            return;
        }

        if (!guarded)
        {
            await next(context);
            return;
        }

        var body = await BufferBodyAsync(context);
        if (body is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "The request body is too large.", "body",
                $"Data-plane request bodies are limited to {_maxBodyBytes} bytes.");
            return;
        }

        context.Features.Set(new BufferedRequestBody(body));
        var model = serving.Model ?? "";
        var version = serving.Call == ServingCall.InferVersion ? request.Path.Value!.Split('/')[^2] : "";
        if (serving.IsSplit && deployments.TryGet(model, out var deployment))
        {
            var assigned = Assign(model, deployment, request.Headers, body);
            request.Headers[ServingHeaders.Traffic] = assigned == deployment.Production ? TrafficRoles.Production : TrafficRoles.Canary;
            version = assigned.ToString(CultureInfo.InvariantCulture);
            if (deployment.Shadow is { } shadow && shadow.Version != assigned && TrafficSplit.Mirror(shadow.Percent, Random.Shared.NextDouble()))
            {
                var copy = new ShadowRequest(request.Path + request.QueryString, body, request.ContentType, model, shadow.Version, presented!);
                // Queued once the primary response is complete: the caller never waits for, or sees, the shadow.
                context.Response.OnCompleted(() =>
                {
                    if (context.Response.StatusCode is >= 200 and < 300)
                    {
                        shadows.TryEnqueue(copy);
                    }

                    return Task.CompletedTask;
                });
            }
        }

        metrics.Admitted(model, version, serving.Call.ToString().ToLowerInvariant());
        if (!await direct.TryForwardAsync(context, body))
        {
            await next(context);
        }
    }

    private async Task RefuseAsync(HttpContext context, LimitDecision refused, string message)
    {
        metrics.Limited(refused.Limit!);
        context.Response.Headers.RetryAfter = refused.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        await Problems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests.", "client", message);
    }

    /// <summary>The version a split call goes to: by its sticky key where the deployment names one, else by chance.</summary>
    internal static int Assign(string model, Deployment deployment, IHeaderDictionary headers, byte[] body) =>
        Assign(model, deployment, header => headers[header].FirstOrDefault(value => !string.IsNullOrEmpty(value)), body);

    internal static int Assign(string model, Deployment deployment, Func<string, string?> header, byte[] body)
    {
        var sticky = StickySource.Parse(deployment.StickyBy);
        var stickyKey = sticky.Kind switch
        {
            StickyKind.EntityId => TrafficSplit.FirstEntityId(body),
            StickyKind.Header => header(sticky.Header!),
            _ => null,
        };
        return TrafficSplit.Assign(model, deployment.Production, deployment.Canary?.Version, deployment.Canary?.Percent ?? 0, stickyKey, Random.Shared.NextDouble());
    }

    /// <summary>
    /// Reads the body into memory, bounded, and puts it back as a rewindable stream: the split
    /// reads the entity id from it, a retry resends it, a shadow copies it. Null when it is too large.
    /// </summary>
    private async Task<byte[]?> BufferBodyAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentLength > _maxBodyBytes)
        {
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = _maxBodyBytes;
        }

        byte[] body;
        try
        {
            if (request.ContentLength is { } length)
            {
                // The usual case: read straight into a buffer of the stated size (Kestrel holds the
                // client to its Content-Length).
                body = new byte[length];
                await request.Body.ReadExactlyAsync(body, context.RequestAborted);
            }
            else
            {
                using var buffer = new MemoryStream();
                var chunk = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
                try
                {
                    int read;
                    while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
                    {
                        if (buffer.Length + read > _maxBodyBytes)
                        {
                            return null;
                        }

                        buffer.Write(chunk, 0, read);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(chunk);
                }

                body = buffer.ToArray();
            }
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }

        request.Body = new MemoryStream(body, writable: false);
        request.ContentLength = body.Length;
        return body;
    }
}

/// <summary>A data-plane request's body as the admission middleware read it: the forwarder sends it in one write with the headers.</summary>
public sealed record BufferedRequestBody(byte[] Bytes);
