using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Schema;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Flywheel.Inference.Serving;

/// <summary>What every predict and infer request goes through before scoring: body limits, JSON, the version asked for.</summary>
public static class Requests
{
    /// <summary>
    /// The body as JSON, or the 4xx that says why not (415 not JSON, 413 too large, 400 malformed).
    /// A body declared at most <paramref name="inlineBytes"/> long is parsed on the thread that
    /// read it; a larger or unsized one is read there and parsed on the thread pool. For the rest
    /// of such a request (validation, scoring, the answer) to continue there, the handler awaits
    /// <see cref="ContinueOnThreadPool"/> after this.
    /// </summary>
    /// <remarks>
    /// With <see cref="InlineConnections"/> the thread that reads a request is a socket event
    /// thread, shared by many client connections: a request of a few hundred instances held it
    /// for milliseconds, and every other connection on it waited that long for its next read.
    /// Handing off costs a thread-pool wake-up, which is small beside such a request's own work.
    /// </remarks>
    public static async ValueTask<(JsonDocument? Body, ProblemHttpResult? Problem)> ReadJsonAsync(
        HttpRequest request, long maxBytes, long inlineBytes, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return (null, TypedResults.Problem(title: "Unsupported media type",
                detail: $"Send the body as application/json, not {request.ContentType ?? "no content type"}.", statusCode: StatusCodes.Status415UnsupportedMediaType));
        }

        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        try
        {
            return request.ContentLength <= inlineBytes
                ? (await JsonDocument.ParseAsync(request.Body, default, cancellationToken), null)
                : (await ParseOnThreadPoolAsync(request.BodyReader, cancellationToken), null);
        }
        catch (JsonException exception)
        {
            // Not "does not match the model's inputs": feedback reads its body here too, and an unreadable body matches nothing.
            return (null, Invalid([new FieldError("body", "is not valid JSON: " + exception.Message.Split(" Path:", 2)[0])], "The request body is not valid JSON."));
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(maxBytes));
        }
    }

    /// <summary>
    /// Awaited by a handler right after its body was read: for a body over
    /// <paramref name="inlineBytes"/> or without a length, the handler goes on on the thread pool
    /// rather than on the socket event thread that read it (<see cref="InlineConnections"/>); for a
    /// small one, or already on the pool, it goes on at once. It must be awaited in the handler's
    /// own method: the hop in <see cref="ReadJsonAsync"/> moves the parse, but a caller whose await
    /// came after the pool had already finished that work goes on synchronously where it was, on
    /// the event thread (seen once in CI, and that large request then held up the event thread).
    /// </summary>
    public static ThreadPoolHop ContinueOnThreadPool(HttpRequest request, long inlineBytes) =>
        new(request.ContentLength is not { } length || length > inlineBytes);

    /// <summary>Reads the whole body where it arrives, then parses it on a thread-pool thread.</summary>
    private static async Task<JsonDocument> ParseOnThreadPoolAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        ReadResult read;
        while (!(read = await reader.ReadAsync(cancellationToken)).IsCompleted)
        {
            if (read.IsCanceled)
            {
                throw new OperationCanceledException("Reading the request body was cancelled.");
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        byte[] body;
        try
        {
            body = read.Buffer.ToArray();
        }
        finally
        {
            reader.AdvanceTo(read.Buffer.End);
        }

        if (!Thread.CurrentThread.IsThreadPoolThread)
        {
            // No synchronization context here: the continuation is queued to the thread pool.
            await Task.Yield();
        }

        return JsonDocument.Parse(body);
    }

    /// <summary>The version the gateway assigned (<see cref="ServingHeaders.Version"/>), or the route's; null means production.</summary>
    public static bool TryReadVersion(HttpRequest request, string? routeVersion, out int? version, out ProblemHttpResult? problem)
    {
        version = null;
        problem = null;
        var text = routeVersion ?? (request.Headers.TryGetValue(ServingHeaders.Version, out var header) ? header.ToString() : null);
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed > 0)
        {
            version = parsed;
            return true;
        }

        var field = routeVersion is null ? ServingHeaders.Version : "version";
        problem = Invalid([new FieldError(field, $"'{text}' is not a version number.")]);
        return false;
    }

    /// <summary>
    /// What every prediction call does first: reads the version asked for (route or header), the
    /// JSON body (bounded) and leases the version that will answer, per the gateway's traffic role.
    /// </summary>
    public static async ValueTask<(AdmittedRequest? Request, ProblemHttpResult? Problem)> AdmitAsync(
        string model, string? routeVersion, HttpRequest request, ServedModels served, InferenceOptions options, CancellationToken cancellationToken)
    {
        if (!TryReadVersion(request, routeVersion, out var asked, out var versionProblem))
        {
            return (null, versionProblem);
        }

        var (body, bodyProblem) = await ReadJsonAsync(request, options.MaxRequestBodySize, options.InlineBodyBytes, cancellationToken);
        if (body is null)
        {
            return (null, bodyProblem);
        }

        var failure = served.TryLease(model, asked, out var lease, Traffic(request));
        if (failure != LeaseFailure.None)
        {
            body.Dispose();
            return (null, LeaseProblem(failure, model, asked));
        }

        return (new AdmittedRequest(body, lease), null);
    }

    /// <summary>The part of the deployment the gateway assigned (<see cref="ServingHeaders.Traffic"/>); null means production.</summary>
    public static string? Traffic(HttpRequest request) =>
        request.Headers.TryGetValue(ServingHeaders.Traffic, out var role) ? role.ToString() : null;

    public static ProblemHttpResult LeaseProblem(LeaseFailure failure, string model, int? version) => failure switch
    {
        LeaseFailure.ModelNotDeployed => TypedResults.Problem(title: "Model not found",
            detail: $"No model named '{model}' is deployed on this inference server.", statusCode: StatusCodes.Status404NotFound),
        LeaseFailure.VersionNotDeployed => TypedResults.Problem(title: "Version not deployed",
            detail: $"Version {version} of '{model}' takes no traffic; its deployment does not name it.", statusCode: StatusCodes.Status404NotFound),
        _ => TypedResults.Problem(title: "Version not loaded",
            detail: $"{(version is null ? "The production version" : $"Version {version}")} of '{model}' is not loaded on this server (yet, or its artifact was refused).",
            statusCode: StatusCodes.Status409Conflict),
    };

    /// <summary>
    /// 500 for a valid request the version could not score: says which version failed and ONNX
    /// Runtime's reason (the model's fault, so retrying the same rows will fail again).
    /// </summary>
    public static ProblemHttpResult ScoringFailed(ScoringFailedException exception) =>
        TypedResults.Problem(
            title: "The model failed to score the request",
            detail: $"Version {exception.Version} of '{exception.Model}' could not score these rows: {Shorten(exception.InnerException?.Message ?? exception.Message)}",
            statusCode: StatusCodes.Status500InternalServerError,
            extensions: new Dictionary<string, object?> { ["model_version"] = exception.Version });

    private static string Shorten(string message) => message.Length <= 500 ? message : message[..500] + "…";

    public static ProblemHttpResult Invalid(IReadOnlyList<FieldError> errors, string title = "The request does not match the model's inputs.") =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors
            .GroupBy(e => e.Field, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray(), StringComparer.Ordinal))
        {
            Title = title,
            Status = StatusCodes.Status400BadRequest,
        });

    public static PredictionContext Context(HttpRequest request, string protocol, long startedAt) => new(
        protocol,
        string.Equals(request.Headers[ServingHeaders.Shadow], "true", StringComparison.OrdinalIgnoreCase),
        request.HttpContext.Features.Get<AuthenticatedCaller>()?.Name,
        startedAt);

    private static ProblemHttpResult TooLarge(long maxBytes) =>
        TypedResults.Problem(title: "Request body too large",
            detail: $"The body is larger than {maxBytes} bytes (Flywheel:Inference:MaxRequestBodySize); send fewer instances per request.",
            statusCode: StatusCodes.Status413PayloadTooLarge);
}

/// <summary>A prediction call's parsed body and its hold on the answering version; disposing releases both.</summary>
public sealed class AdmittedRequest(JsonDocument body, VersionLease lease) : IDisposable
{
    public JsonDocument Body { get; } = body;

    public VersionLease Lease { get; } = lease;

    public void Dispose()
    {
        Lease.Dispose();
        Body.Dispose();
    }
}

/// <summary>
/// An awaitable that, when <c>wanted</c> and not already on a thread-pool thread, queues the
/// awaiting method's continuation to the thread pool (<see cref="Requests.ContinueOnThreadPool"/>).
/// </summary>
public readonly struct ThreadPoolHop(bool wanted) : ICriticalNotifyCompletion
{
    public bool IsCompleted => !wanted || Thread.CurrentThread.IsThreadPoolThread;

    public ThreadPoolHop GetAwaiter() => this;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) =>
        ThreadPool.QueueUserWorkItem(static action => action(), continuation, preferLocal: false);

    public void UnsafeOnCompleted(Action continuation) =>
        ThreadPool.UnsafeQueueUserWorkItem(static action => action(), continuation, preferLocal: false);
}
