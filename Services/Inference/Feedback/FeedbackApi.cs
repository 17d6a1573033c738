using Flywheel.Contracts.Serving;
using Flywheel.Core.Feedback;
using Flywheel.Core.Schema;
using Flywheel.Inference.Serving;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Flywheel.Inference.Feedback;

/// <summary>
/// <c>POST /v1/models/{model}/feedback</c>: the true outcome of served predictions, one object or
/// an array of up to <see cref="FeedbackParser.MaxItems"/> — <c>{ prediction_id, label }</c> or
/// <c>{ entity_id, event_time, label }</c>, the label typed as the model's target. All or nothing:
/// a batch with a bad item stores none and reports every problem with its position and field.
/// The gateway admits it (predictor keys for the models they name, operators, admins) and never
/// splits or mirrors it; the caller's key name comes with it.
/// </summary>
public static class FeedbackApi
{
    public static RouteGroupBuilder MapFeedbackApi(this IEndpointRouteBuilder app)
    {
        var feedback = app.MapGroup("/v1/models/{model}/feedback").WithTags("Feedback");
        feedback.MapPost("/", PostAsync).WithName("PostFeedback")
            .WithSummary("Store labels for served predictions, by prediction id or by entity and time.");
        return feedback;
    }

    public static async Task<Results<Ok<FeedbackAccepted>, ProblemHttpResult>> PostAsync(
        string model, HttpContext http, FeedbackStore store, FeedbackMetrics metrics, IOptions<InferenceOptions> options, CancellationToken cancellationToken)
    {
        var (body, problem) = await Requests.ReadJsonAsync(http.Request, options.Value.MaxRequestBodySize, options.Value.InlineBodyBytes, cancellationToken);
        await Requests.ContinueOnThreadPool(http.Request, options.Value.InlineBodyBytes);
        if (body is null)
        {
            metrics.Rejected(model);
            return problem!;
        }

        using (body)
        {
            if (await store.FindModelAsync(model, cancellationToken) is not { } schema)
            {
                return TypedResults.Problem(title: "Model not found", detail: $"There is no model named '{model}'.", statusCode: StatusCodes.Status404NotFound);
            }

            var batch = FeedbackParser.Parse(schema, body.RootElement);
            if (!batch.IsValid)
            {
                metrics.Rejected(model);
                return Invalid(batch.Errors);
            }

            var caller = http.Features.Get<AuthenticatedCaller>()?.Name;
            var result = await store.StoreAsync(model, batch.Items, caller, cancellationToken);
            metrics.Stored(model, result);
            return TypedResults.Ok(result);
        }
    }

    /// <summary>The training labels endpoint's error shape: <c>errors</c> keyed <c>[line].field</c> and a <c>lines</c> list; body-level problems under <c>body</c>.</summary>
    private static ProblemHttpResult Invalid(IReadOnlyList<FieldError> errors) =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "Some feedback is not valid; none of it was stored.",
            Extensions =
            {
                ["errors"] = errors
                    .GroupBy(e => e.Line is { } line ? $"[{line}].{e.Field}" : e.Field, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray(), StringComparer.Ordinal),
                ["lines"] = errors.Select(e => new { line = e.Line, field = e.Field, message = e.Message }).ToArray(),
            },
        });
}
