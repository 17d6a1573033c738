using Microsoft.AspNetCore.Http.HttpResults;

namespace Flywheel.Inference;

/// <summary>KServe V1 protocol: list models and model readiness (predict lands with serving).</summary>
public static class KServeV1Api
{
    public static RouteGroupBuilder MapKServeV1Api(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/models").WithTags("KServe V1");
        v1.MapGet("/", ListModels);
        v1.MapGet("/{model}", GetModel);
        return v1;
    }

    public static Ok<ModelList> ListModels(ServedModels served) =>
        TypedResults.Ok(new ModelList([.. served.All.Select(m => m.Name)]));

    public static Results<Ok<ModelReady>, ProblemHttpResult> GetModel(string model, ServedModels served) =>
        served.TryGet(model, out var found)
            ? TypedResults.Ok(new ModelReady(found.Name, found.Ready))
            : OpenInferenceProtocolApi.ModelNotFound(model);
}

public sealed record ModelList(IReadOnlyList<string> Models);
