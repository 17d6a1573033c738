using System.Security.Claims;
using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Registry.Ingestion;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Training;

/// <summary>
/// <c>POST /api/models/{model}/labels</c>: outcomes that arrive apart from the features they
/// explain — one object or an array of <c>{ entity_id, event_time, &lt;target&gt; }</c>. A snapshot
/// joins each with the entity's features as they were at <c>event_time</c> (point in time).
/// All-or-nothing per batch: a batch with a bad label stores none and reports every error with
/// its position ("line") and field. A label already stored for the same entity and time is
/// counted as a duplicate and kept as it was.
/// </summary>
public static class LabelsApi
{
    public const int MaxLabels = 10_000;

    public static RouteGroupBuilder MapLabelsApi(this IEndpointRouteBuilder app)
    {
        var labels = app.MapGroup("/api/models/{model}/labels").WithTags("Training");
        labels.MapPost("/", PostAsync).RequireAuthorization(Policies.Operate).WithName("PostLabels")
            .WithSummary("Store labels by entity and time, to be joined point-in-time with features.");
        return labels;
    }

    public static async Task<IResult> PostAsync(
        string model, JsonElement body, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> jsonOptions, CancellationToken cancellationToken)
    {
        var json = jsonOptions.Value.SerializerOptions;
        IReadOnlyList<JsonElement> items = body.ValueKind switch
        {
            JsonValueKind.Object => [body],
            JsonValueKind.Array => [.. body.EnumerateArray()],
            _ => [],
        };
        if (items.Count == 0 || items.Count > MaxLabels)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["body"] = [$"Send one label object or an array of 1 to {MaxLabels} of them."] },
                title: "The labels could not be read.");
        }

        if (await ModelsApi.FindAsync(model, database, json, cancellationToken) is not { } found)
        {
            return ModelsApi.ModelNotFound(model);
        }

        var schema = found.ToSchema();
        var labels = new List<RowValidation>(items.Count);
        var errors = new List<FieldError>();
        for (var i = 0; i < items.Count; i++)
        {
            var source = RowSources.FromJson(i + 1, items[i], schema);
            if (source.Problem is not null)
            {
                errors.Add(new FieldError("body", source.Problem, i + 1, "format"));
                continue;
            }

            var label = source.WithTypeErrors(RowValidator.ValidateLabel(schema, source.Values, i + 1, DateTimeOffset.UtcNow + RowValidator.MaxTimeAhead));
            errors.AddRange(label.Errors);
            labels.Add(label);
        }

        if (errors.Count > 0)
        {
            return TypedResults.Problem(new Microsoft.AspNetCore.Mvc.ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "Some labels are not valid; none were stored.",
                Extensions =
                {
                    ["errors"] = errors.GroupBy(e => $"[{e.Line}].{e.Field}").ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                    ["lines"] = errors.Select(e => new { line = e.Line, field = e.Field, message = e.Message }).ToArray(),
                },
            });
        }

        var actor = user.Identity?.Name ?? "unknown";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long accepted = 0;
        foreach (var label in labels)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO registry.labels (model, entity_id, event_time, target, source, created_by)
                VALUES ($1, $2, $3, $4::jsonb, 'api', $5) ON CONFLICT (model, entity_id, event_time) DO NOTHING
                """, connection, transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            insert.Parameters.Add(new NpgsqlParameter { Value = label.EntityId! });
            insert.Parameters.Add(new NpgsqlParameter { Value = label.EventTime!.Value });
            insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(label.Target, json) });
            insert.Parameters.Add(new NpgsqlParameter { Value = actor });
            accepted += await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new LabelsAccepted(accepted, labels.Count - accepted));
    }
}

public sealed record LabelsAccepted(long Accepted, long Duplicates);
