using System.Security.Claims;
using System.Text.Json;
using Flywheel.DriftMonitor.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.DriftMonitor.Monitoring;

/// <summary>The model's monitoring policy as the API returns it; <see cref="UpdatedAt"/> and <see cref="UpdatedBy"/> are null while it has the defaults.</summary>
public sealed record MonitoringPolicyView(string Model, MonitoringPolicy Policy, DateTimeOffset? UpdatedAt, string? UpdatedBy);

/// <summary>
/// <c>GET/PUT /api/models/{model}/monitoring/policy</c> (API.md, "Monitoring"): windows, schedule,
/// drift thresholds, performance tolerance and cooldown. A change is audited in its own transaction.
/// </summary>
public static class MonitoringPolicyApi
{
    public static void MapMonitoringPolicyApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/models/{model}/monitoring").WithTags("Monitoring");
        api.MapGet("/policy", GetAsync).WithName("GetMonitoringPolicy")
            .WithSummary("The model's monitoring policy (the defaults until one is set).");
        api.MapPut("/policy", PutAsync).RequireAuthorization(Policies.Operate).WithName("PutMonitoringPolicy")
            .WithSummary("Replace the model's monitoring policy: window, evaluation interval, minimum rows, drift thresholds, performance tolerance, cooldown.");
    }

    public static async Task<Results<Ok<MonitoringPolicyView>, ProblemHttpResult>> GetAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, IOptions<MonitoringOptions> monitoring, CancellationToken cancellationToken)
    {
        if (await MonitoredModels.FindSchemaAsync(database, model, cancellationToken) is null)
        {
            return ModelNotFound(model);
        }

        var (policy, updatedAt, updatedBy) = await MonitoredModels.PolicyAsync(database, model, monitoring.Value.DefaultPolicy, json.Value.SerializerOptions, cancellationToken);
        return TypedResults.Ok(new MonitoringPolicyView(model, policy, updatedAt, updatedBy));
    }

    public static async Task<Results<Ok<MonitoringPolicyView>, ValidationProblem, ProblemHttpResult>> PutAsync(
        string model, MonitoringPolicy? policy, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json,
        IOptions<MonitoringOptions> monitoring, CancellationToken cancellationToken)
    {
        if (policy is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["a monitoring policy is required."] },
                title: "The monitoring policy is not valid.");
        }

        var schema = await MonitoredModels.FindSchemaAsync(database, model, cancellationToken);
        if (schema is null)
        {
            return ModelNotFound(model);
        }

        if (policy.Validate(schema) is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors, title: "The monitoring policy is not valid.");
        }

        var options = json.Value.SerializerOptions;
        var (previous, previousAt, _) = await MonitoredModels.PolicyAsync(database, model, monitoring.Value.DefaultPolicy, options, cancellationToken);
        var stored = policy.Normalised();
        var actor = user.Actor();
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        DateTimeOffset updatedAt;
        await using (var upsert = new NpgsqlCommand("""
            INSERT INTO monitoring.policies (model, policy, updated_at, updated_by) VALUES ($1, $2::jsonb, now(), $3)
            ON CONFLICT (model) DO UPDATE SET policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
            RETURNING updated_at
            """, connection, transaction))
        {
            upsert.Parameters.Add(new NpgsqlParameter { Value = model });
            upsert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(stored, options) });
            upsert.Parameters.Add(new NpgsqlParameter { Value = actor });
            await using var reader = await upsert.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            updatedAt = reader.GetFieldValue<DateTimeOffset>(0);
        }

        await Audit.WriteAsync(connection, transaction, actor, "monitoring.policy.update", model,
            new { policy = stored, previous = previousAt is null ? null : previous }, options, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new MonitoringPolicyView(model, stored, updatedAt, actor));
    }

    public static ProblemHttpResult ModelNotFound(string model) =>
        TypedResults.Problem(title: "Model not found", detail: $"There is no model named '{model}'.", statusCode: StatusCodes.Status404NotFound);
}
