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
        return v1;
    }

    public static Ok<ModelList> ListModels(ServedModels served) =>
        TypedResults.Ok(new ModelList([.. served.All.Select(m => m.Model)]));

    public static Results<Ok<ModelReady>, ProblemHttpResult> GetModel(string model, ServedModels served) =>
        served.TryGet(model, out var found)
            ? TypedResults.Ok(new ModelReady(found.Model, found.Ready))
            : OpenInferenceProtocolApi.ModelNotFound(model);

    public static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> PredictAsync(
        string model, HttpContext http, [AsParameters] ServingServices services, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        int? version = null;
        var result = await PredictCoreAsync(model, http, services, v => version = v, cancellationToken);
        services.Metrics.Request(model, version, Protocol, Stopwatch.GetElapsedTime(started),
            result.Result is ProblemHttpResult problem ? problem.StatusCode : StatusCodes.Status200OK);
        return result;
    }

    private static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> PredictCoreAsync(
        string model, HttpContext http, ServingServices services, Action<int> served, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var options = services.Options.Value;
        var (admitted, problem) = await Requests.AdmitAsync(model, null, http.Request, services.Served, options.MaxRequestBodySize, cancellationToken);
        if (admitted is null)
        {
            return problem!;
        }

        using (admitted)
        {
            var (body, lease) = (admitted.Body, admitted.Lease);
            served(lease.Version.Version);
            var schema = lease.Set.Schema;
            IReadOnlyDictionary<string, IReadOnlyDictionary<string, System.Text.Json.JsonElement>>? online = null;
            var entities = InstanceValidator.EntitiesToLookUp(schema, body.RootElement);
            if (entities.Count > 0)
            {
                try
                {
                    online = await services.Predictor.ReadOnlineAsync(model, entities);
                }
                catch (Exception exception) when (exception is RedisException or TimeoutException)
                {
                    return TypedResults.Problem(title: "Online store unavailable",
                        detail: "The entities' stored features could not be read; give the features in the request, or retry.",
                        statusCode: StatusCodes.Status503ServiceUnavailable);
                }
            }

            var validated = InstanceValidator.Validate(schema, lease.Set.Settings, body.RootElement, options.MaxInstances, online);
            if (!validated.IsValid)
            {
                return Requests.Invalid(validated.Errors);
            }

            Predictions predictions;
            try
            {
                predictions = await services.Predictor.PredictAsync(
                    lease, validated.Rows, validated.EntityIds, Requests.Context(http.Request, Protocol, started), cancellationToken);
            }
            catch (ScoringFailedException exception)
            {
                return Requests.ScoringFailed(exception);
            }

            http.Response.Headers[ServingHeaders.ModelVersion] = lease.Version.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Ok(new PredictResponse(
                predictions.Outputs,
                lease.Version.Version,
                predictions.PredictionIds));
        }
    }
}

/// <summary>What the predict and infer handlers share.</summary>
public sealed record ServingServices(ServedModels Served, Predictor Predictor, InferenceMetrics Metrics, IOptions<InferenceOptions> Options);

public sealed record ModelList(IReadOnlyList<string> Models);

public sealed record PredictResponse(IReadOnlyList<IReadOnlyDictionary<string, object?>> Predictions, int ModelVersion, IReadOnlyList<Guid> PredictionIds);
