using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Flywheel.Inference;

/// <summary>Open Inference Protocol (KServe V2) server endpoints: health, server metadata, model metadata.</summary>
public static class OpenInferenceProtocolApi
{
    public static RouteGroupBuilder MapOpenInferenceProtocolApi(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2").WithTags("Open Inference Protocol");
        v2.MapGet("/", GetServerMetadata);
        v2.MapGet("/health/live", () => TypedResults.Ok(new { live = true }));
        v2.MapGet("/health/ready", GetServerReadyAsync);
        v2.MapGet("/models/{model}", GetModelMetadata);
        v2.MapGet("/models/{model}/ready", GetModelReady);
        return v2;
    }

    public static Ok<ServerMetadata> GetServerMetadata() =>
        TypedResults.Ok(new ServerMetadata("flywheel-inference", BuildInfo.Version, []));

    /// <summary>Ready means every dependency needed to serve (store, cache, artifacts, bus) answers.</summary>
    public static async Task<Results<Ok<ServerReady>, JsonHttpResult<ServerReady>>> GetServerReadyAsync(
        HealthCheckService health, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var ready = report.Status != HealthStatus.Unhealthy;
        return ready
            ? TypedResults.Ok(new ServerReady(true))
            : TypedResults.Json(new ServerReady(false), statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    public static Results<Ok<ModelMetadata>, ProblemHttpResult> GetModelMetadata(string model, ServedModels served) =>
        served.TryGet(model, out var found)
            ? TypedResults.Ok(new ModelMetadata(found.Name, [found.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)], found.Platform))
            : ModelNotFound(model);

    public static Results<Ok<ModelReady>, ProblemHttpResult> GetModelReady(string model, ServedModels served) =>
        served.TryGet(model, out var found) ? TypedResults.Ok(new ModelReady(found.Name, found.Ready)) : ModelNotFound(model);

    internal static ProblemHttpResult ModelNotFound(string model) =>
        TypedResults.Problem(
            title: "Model not found",
            detail: $"No model named '{model}' is deployed on this inference server.",
            statusCode: StatusCodes.Status404NotFound);
}

public sealed record ServerMetadata(string Name, string Version, IReadOnlyList<string> Extensions);

public sealed record ServerReady(bool Ready);

public sealed record ModelMetadata(string Name, IReadOnlyList<string> Versions, string Platform);

public sealed record ModelReady(string Name, bool Ready);
