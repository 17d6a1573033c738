using System.Diagnostics;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Serving;
using Flywheel.Inference.Serving;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Flywheel.Inference;

/// <summary>KServe V1 protocol: list models, model readiness and <c>:predict</c>.</summary>
public static class KServeV1Api
{
    public const string Protocol = "v1";

    public static RouteGroupBuilder MapKServeV1Api(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/models").WithTags("KServe V1");
        v1.MapGet("/", ListModels);
        v1.MapGet("/{model}", GetModel);
        v1.MapPost("/{model}:predict", PredictAsync);
        // Without this, GET /v1/models/m:predict would read as the readiness of a model named "m:predict" (404).
        v1.MapMethods("/{model}:predict", [HttpMethods.Get, HttpMethods.Head, HttpMethods.Put, HttpMethods.Patch, HttpMethods.Delete], PredictMethodNotAllowed)
            .ExcludeFromDescription();
        return v1;
    }

    public static ProblemHttpResult PredictMethodNotAllowed(string model, HttpContext http)
    {
        http.Response.Headers.Allow = HttpMethods.Post;
        return TypedResults.Problem(
            statusCode: StatusCodes.Status405MethodNotAllowed,
            title: "Predict takes POST.",
            detail: $"POST /v1/models/{model}:predict with {{ \"instances\": [ … ] }} predicts; GET /v1/models/{model} says whether the model is ready.");
    }

    public static Ok<ModelList> ListModels(ServedModels served) =>
        TypedResults.Ok(new ModelList([.. served.All.Select(m => m.Model)]));

    public static Results<Ok<ModelReady>, ProblemHttpResult> GetModel(string model, ServedModels served) =>
        served.TryGet(model, out var found)
            ? TypedResults.Ok(new ModelReady(found.Model, found.Ready))
            : OpenInferenceProtocolApi.ModelNotFound(model);

    public static async Task<Results<SizedJson<PredictResponse>, ProblemHttpResult>> PredictAsync(
        string model, HttpContext http, [AsParameters] ServingServices services, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var (result, version) = await PredictCoreAsync(model, http, services, cancellationToken);
        services.Metrics.Request(model, version, Protocol, Stopwatch.GetElapsedTime(started),
            result.Result is ProblemHttpResult problem ? problem.StatusCode : StatusCodes.Status200OK);
        return result;
    }

    /// <summary>The answer, and the version that gave it (null when none was leased).</summary>
    private static async Task<(Results<SizedJson<PredictResponse>, ProblemHttpResult> Result, int? Version)> PredictCoreAsync(
        string model, HttpContext http, ServingServices services, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var options = services.Options.Value;
        var (admitted, problem) = await Requests.AdmitAsync(model, null, http.Request, services.Served, options, cancellationToken);
        await Requests.ContinueOnThreadPool(http.Request, options.InlineBodyBytes);
        if (admitted is null)
        {
            return (problem!, null);
        }

        using (admitted)
        {
            var (body, lease) = (admitted.Body, admitted.Lease);
            var version = lease.Version.Version;
            var schema = lease.Set.Schema;
            IReadOnlyDictionary<string, IReadOnlyDictionary<string, System.Text.Json.JsonElement>>? online = null;
            var entities = InstanceValidator.EntitiesToLookUp(schema, body.RootElement, options.MaxInstances);
            if (entities.Count > 0)
            {
                try
                {
                    online = await services.Predictor.ReadOnlineAsync(model, entities);
                }
                catch (Exception exception) when (exception is RedisException or TimeoutException)
                {
                    return (TypedResults.Problem(title: "Online store unavailable",
                        detail: "The entities' stored features could not be read; give the features in the request, or retry.",
                        statusCode: StatusCodes.Status503ServiceUnavailable), version);
                }
            }

            var validated = InstanceValidator.Validate(schema, lease.Set.Settings, body.RootElement, options.MaxInstances, online);
            if (!validated.IsValid)
            {
                return (Requests.Invalid(validated.Errors), version);
            }

            Predictions predictions;
            try
            {
                predictions = await services.Predictor.PredictAsync(
                    lease, validated.Rows, validated.EntityIds, Requests.Context(http.Request, Protocol, started), cancellationToken);
            }
            catch (ScoringFailedException exception)
            {
                return (Requests.ScoringFailed(exception), version);
            }

            http.Response.Headers[ServingHeaders.ModelVersion] = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return (new SizedJson<PredictResponse>(new PredictResponse(predictions.Outputs, version, predictions.PredictionIds)), version);
        }
    }
}

/// <summary>What the predict and infer handlers share.</summary>
public sealed record ServingServices(ServedModels Served, Predictor Predictor, InferenceMetrics Metrics, IOptions<InferenceOptions> Options);

public sealed record ModelList(IReadOnlyList<string> Models);

public sealed record PredictResponse(IReadOnlyList<IReadOnlyDictionary<string, object?>> Predictions, int ModelVersion, IReadOnlyList<Guid> PredictionIds);
