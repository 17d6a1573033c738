using System.Net.Sockets;
using Flywheel.Core.Serving;
using Flywheel.Security;
using Npgsql;

namespace Flywheel.Inference.Serving;

/// <summary>The key that made a data-plane call, as the worker found it.</summary>
public sealed record AuthenticatedCaller(string Name);

/// <summary>
/// Every data-plane call (POST under <c>/v1</c> and <c>/v2</c>: predict, infer, feedback) presents
/// an API key that the worker looks up itself, as the gateway does, and that may call the model:
/// the worker does not trust whoever reached it (in a deployment, anything in the environment can),
/// nor a caller name in a header. The gateway passes the caller's key on. Reads (metadata,
/// readiness, health) stay open, as through the gateway.
/// </summary>
public sealed partial class CallerCheck(RequestDelegate next, ApiKeyStore keys, ILogger<CallerCheck> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !(request.Path.StartsWithSegments("/v1") || request.Path.StartsWithSegments("/v2")))
        {
            await next(context);
            return;
        }

        var presented = ApiKeyStore.Presented(request);
        CallerKey? key;
        try
        {
            key = presented is null ? null : await keys.FindAsync(presented, context.RequestAborted);
        }
        catch (Exception exception) when (exception is NpgsqlException or SocketException or TimeoutException && !context.RequestAborted.IsCancellationRequested)
        {
            LogKeyLookupFailed(exception);
            await Results.Problem(
                title: "The API key could not be checked",
                detail: "The key store (PostgreSQL) did not answer; nothing was predicted. Retry shortly.",
                statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(context);
            return;
        }

        if (key is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Results.Problem(
                title: "An API key is required.",
                detail: presented is null
                    ? "Present an API key as 'Authorization: Bearer <key>' or 'X-Api-Key'."
                    : "The API key is unknown or revoked.",
                statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(context);
            return;
        }

        var model = ServingPath.Parse(request.Path.Value ?? "").Model;
        if (!key.MayCall(model))
        {
            await Results.Problem(
                title: "The API key may not call this model.",
                detail: $"The key '{key.Name}' is not allowed to call model '{model ?? "(none)"}'.",
                statusCode: StatusCodes.Status403Forbidden).ExecuteAsync(context);
            return;
        }

        context.Features.Set(new AuthenticatedCaller(key.Name));
        await next(context);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "An API key could not be looked up; the call was refused with 503")]
    private partial void LogKeyLookupFailed(Exception exception);
}
