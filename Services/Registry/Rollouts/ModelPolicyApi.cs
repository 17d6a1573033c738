using System.Security.Claims;
using System.Text.Json;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Rollouts;

/// <summary>
/// A model's policy (<c>registry.models.policy</c>): approval, rollout and retraining rules. A PUT
/// replaces the whole policy; a part it leaves out takes its defaults. The orchestrator reads the
/// column when a trigger fires or a rollout starts.
/// </summary>
public static class ModelPolicyApi
{
    public static void MapModelPolicyApi(this IEndpointRouteBuilder app)
    {
        var policy = app.MapGroup("/api/models/{model}/policy").WithTags("Models");
        policy.MapPut("/", PutAsync).RequireAuthorization(Policies.Operate).WithName("PutModelPolicy")
            .WithSummary("Set the model's approval, rollout and retraining rules; left-out parts take their defaults.");
        policy.MapGet("/", GetAsync).WithName("GetModelPolicy").WithSummary("The model's policy, defaults filled in.");
    }

    public static async Task<Results<Ok<ModelPolicy>, ValidationProblem, ProblemHttpResult>> PutAsync(
        string model, ModelPolicy? policy, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        if (policy is null)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["body"] = ["is required: the model's policy ({} for the defaults)."] },
                title: "The model policy is not valid.");
        }

        if (policy.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(
                errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The model policy is not valid.");
        }

        var options = json.Value.SerializerOptions;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        ModelPolicy previous;
        await using (var select = new NpgsqlCommand("SELECT policy::text FROM registry.models WHERE name = $1 FOR NO KEY UPDATE", connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = model });
            if (await select.ExecuteScalarAsync(cancellationToken) is not string stored)
            {
                return ModelsApi.ModelNotFound(model);
            }

            previous = Parse(stored, options);
        }

        var complete = policy.Complete();
        await using (var update = new NpgsqlCommand("UPDATE registry.models SET policy = $2::jsonb WHERE name = $1", connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = model });
            update.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(complete, options) });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await Audit.WriteAsync(
            connection, transaction, user.Identity?.Name ?? "unknown", "model.policy_changed", model, new { policy = complete, previous }, options, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(complete);
    }

    public static async Task<Results<Ok<ModelPolicy>, ProblemHttpResult>> GetAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT policy::text FROM registry.models WHERE name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return await command.ExecuteScalarAsync(cancellationToken) is string stored
            ? TypedResults.Ok(Parse(stored, json.Value.SerializerOptions))
            : ModelsApi.ModelNotFound(model);
    }

    /// <summary>The stored policy with defaults filled in (a model created before rollouts existed has only <c>require_approval</c>).</summary>
    public static ModelPolicy Parse(string stored, JsonSerializerOptions options) =>
        (JsonSerializer.Deserialize<ModelPolicy>(stored, options) ?? new ModelPolicy()).Complete();
}
