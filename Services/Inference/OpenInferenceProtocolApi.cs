using System.Diagnostics;
using System.Globalization;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Inference.Models;
using Flywheel.Inference.Serving;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Flywheel.Inference;

/// <summary>Open Inference Protocol (KServe V2) server endpoints: health, metadata, readiness and infer.</summary>
public static class OpenInferenceProtocolApi
{
    public const string Protocol = "v2";
    public const string Platform = "onnxruntime";

    public static RouteGroupBuilder MapOpenInferenceProtocolApi(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2").WithTags("Open Inference Protocol");
        v2.MapGet("/", GetServerMetadata);
        v2.MapGet("/health/live", () => TypedResults.Ok(new { live = true }));
        v2.MapGet("/health/ready", GetServerReadyAsync);
        v2.MapGet("/models/{model}", GetModelMetadata);
        v2.MapGet("/models/{model}/versions/{version}", GetModelMetadata);
        v2.MapGet("/models/{model}/ready", GetModelReady);
        v2.MapGet("/models/{model}/versions/{version}/ready", GetModelReady);
        v2.MapPost("/models/{model}/infer", InferAsync);
        v2.MapPost("/models/{model}/versions/{version}/infer", InferAsync);
        return v2;
    }

    public static Ok<ServerMetadata> GetServerMetadata() =>
        TypedResults.Ok(new ServerMetadata("flywheel-inference", BuildInfo.Version, []));

    /// <summary>
    /// Ready means every dependency answers and the deployments present at start have been loaded
    /// (or refused). A model deployed later does not take the whole server out of rotation while it
    /// loads: its own <c>/v2/models/{model}/ready</c> says when it can serve.
    /// </summary>
    public static async Task<Results<Ok<ServerReady>, JsonHttpResult<ServerReady>>> GetServerReadyAsync(
        HealthCheckService health, DeploymentCatalog catalog, ModelLoader loader, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var ready = report.Status != HealthStatus.Unhealthy && catalog.Loaded.IsCompletedSuccessfully && loader.Reconciled;
        return ready
            ? TypedResults.Ok(new ServerReady(true))
            : TypedResults.Json(new ServerReady(false), statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    public static Results<Ok<ModelMetadata>, ProblemHttpResult> GetModelMetadata(string model, string? version, ServedModels served)
    {
        if (!served.TryGet(model, out var set))
        {
            return ModelNotFound(model);
        }

        if (!Requests.TryReadVersion(new DefaultHttpContext().Request, version, out var asked, out var problem))
        {
            return problem!;
        }

        var wanted = asked ?? set.Production;
        if (!set.Versions.TryGetValue(wanted, out var loaded))
        {
            return Requests.LeaseProblem(set.Deployment.Versions.Contains(wanted) ? LeaseFailure.VersionNotLoaded : LeaseFailure.VersionNotDeployed, model, wanted);
        }

        return TypedResults.Ok(new ModelMetadata(
            set.Model,
            [.. set.Versions.Keys.Order().Select(v => v.ToString(CultureInfo.InvariantCulture))],
            Platform,
            loaded.Provider,
            loaded.Version,
            [.. set.Schema.Features.Select(f => new TensorMetadata(OnnxModelContract.InputName(f.Name), TensorValidator.Datatype(f.Type), [-1, 1]))],
            [.. Outputs(set.Schema, loaded)]));
    }

    public static Results<Ok<ModelReady>, JsonHttpResult<ModelReady>, ProblemHttpResult> GetModelReady(string model, string? version, ServedModels served)
    {
        if (!served.TryGet(model, out var set))
        {
            return ModelNotFound(model);
        }

        if (version is null)
        {
            return set.Ready
                ? TypedResults.Ok(new ModelReady(set.Model, true))
                : TypedResults.Json(new ModelReady(set.Model, false), statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        // A version that is not a version, or one the deployment does not name, will never be ready
        // here: 400 or 404, as metadata and infer answer, and 503 only for one that is still loading.
        if (!Requests.TryReadVersion(new DefaultHttpContext().Request, version, out var asked, out var problem))
        {
            return problem!;
        }

        if (!set.Deployment.Versions.Contains(asked!.Value))
        {
            return Requests.LeaseProblem(LeaseFailure.VersionNotDeployed, model, asked.Value);
        }

        var ready = set.Versions.ContainsKey(asked.Value);
        return ready
            ? TypedResults.Ok(new ModelReady(set.Model, true))
            : TypedResults.Json(new ModelReady(set.Model, false), statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    public static async Task<Results<SizedJson<InferResponse>, ProblemHttpResult>> InferAsync(
        string model, string? version, HttpContext http, [AsParameters] ServingServices services, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var (result, served) = await InferCoreAsync(model, version, http, services, started, cancellationToken);
        services.Metrics.Request(model, served, Protocol, Stopwatch.GetElapsedTime(started),
            result.Result is ProblemHttpResult problem ? problem.StatusCode : StatusCodes.Status200OK);
        return result;
    }

    /// <summary>The answer, and the version that gave it (null when none was leased).</summary>
    private static async Task<(Results<SizedJson<InferResponse>, ProblemHttpResult> Result, int? Version)> InferCoreAsync(
        string model, string? version, HttpContext http, ServingServices services, long started, CancellationToken cancellationToken)
    {
        var options = services.Options.Value;
        var (admitted, problem) = await Requests.AdmitAsync(model, version, http.Request, services.Served, options, cancellationToken);
        await Requests.ContinueOnThreadPool(http.Request, options.InlineBodyBytes);
        if (admitted is null)
        {
            return (problem!, null);
        }

        using (admitted)
        {
            var (body, lease) = (admitted.Body, admitted.Lease);
            var served = lease.Version.Version;
            var validated = TensorValidator.Validate(lease.Set.Schema, lease.Set.Settings, body.RootElement, options.MaxInstances);
            if (!validated.IsValid)
            {
                return (Requests.Invalid(validated.Errors), served);
            }

            Predictions predictions;
            try
            {
                predictions = await services.Predictor.PredictAsync(
                    lease, validated.Rows, validated.EntityIds, Requests.Context(http.Request, Protocol, started), cancellationToken);
            }
            catch (ScoringFailedException exception)
            {
                return (Requests.ScoringFailed(exception), served);
            }

            http.Response.Headers[ServingHeaders.ModelVersion] = served.ToString(CultureInfo.InvariantCulture);
            var id = body.RootElement.TryGetProperty("id", out var idElement) ? idElement.GetString() : null;
            return (new SizedJson<InferResponse>(new InferResponse(
                model,
                served.ToString(CultureInfo.InvariantCulture),
                id,
                OutputTensors(lease.Set.Schema, predictions.Rows),
                new InferParameters(predictions.PredictionIds))), served);
        }
    }

    private static IEnumerable<TensorMetadata> Outputs(ModelSchema schema, LoadedVersion version) => schema.Task switch
    {
        ModelTask.Binary =>
        [
            new(OnnxModelContract.PredictedLabelOutput, "BOOL", [-1, 1]),
            new(OnnxModelContract.ScoreOutput, "FP32", [-1, 1]),
            new(OnnxModelContract.ProbabilityOutput, "FP32", [-1, 1]),
        ],
        ModelTask.Multiclass =>
        [
            new(OnnxModelContract.PredictedLabelOutput, "BYTES", [-1, 1]),
            new(OnnxModelContract.ScoreOutput, "FP32", [-1, version.Classes.Count]),
        ],
        _ => [new(OnnxModelContract.ScoreOutput, "FP32", [-1, 1])],
    };

    private static IReadOnlyList<OutputTensor> OutputTensors(ModelSchema schema, ScoredRow[] rows)
    {
        var count = rows.Length;
        var width = rows[0].Scores.Length;
        var scores = new OutputTensor(OnnxModelContract.ScoreOutput, "FP32", [count, width], [.. rows.SelectMany(r => r.Scores.Select(s => (object)s))]);
        return schema.Task switch
        {
            ModelTask.Binary =>
            [
                new(OnnxModelContract.PredictedLabelOutput, "BOOL", [count, 1], [.. rows.Select(r => r.Label)]),
                scores,
                new(OnnxModelContract.ProbabilityOutput, "FP32", [count, 1], [.. rows.Select(r => (object?)r.Probability)]),
            ],
            ModelTask.Multiclass => [new(OnnxModelContract.PredictedLabelOutput, "BYTES", [count, 1], [.. rows.Select(r => r.Label)]), scores],
            _ => [scores],
        };
    }

    internal static ProblemHttpResult ModelNotFound(string model) =>
        TypedResults.Problem(
            title: "Model not found",
            detail: $"No model named '{model}' is deployed on this inference server.",
            statusCode: StatusCodes.Status404NotFound);
}

public sealed record ServerMetadata(string Name, string Version, IReadOnlyList<string> Extensions);

public sealed record ServerReady(bool Ready);

/// <summary>V2 model metadata, plus the version described and the execution provider its session runs on.</summary>
public sealed record ModelMetadata(
    string Name,
    IReadOnlyList<string> Versions,
    string Platform,
    string Provider,
    int Version,
    IReadOnlyList<TensorMetadata> Inputs,
    IReadOnlyList<TensorMetadata> Outputs);

public sealed record TensorMetadata(string Name, string Datatype, IReadOnlyList<int> Shape);

public sealed record ModelReady(string Name, bool Ready);

public sealed record OutputTensor(string Name, string Datatype, IReadOnlyList<int> Shape, IReadOnlyList<object?> Data);

public sealed record InferParameters(IReadOnlyList<Guid> PredictionIds);

public sealed record InferResponse(string ModelName, string ModelVersion, string? Id, IReadOnlyList<OutputTensor> Outputs, InferParameters Parameters);
