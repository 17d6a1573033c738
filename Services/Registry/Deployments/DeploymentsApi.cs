using System.Security.Claims;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Registry.Deployments;

/// <summary>
/// Deployments (API.md, "Deployments"): which versions of a model take traffic and how it is split.
/// A change writes <c>registry.deployments</c> (whose trigger tells the data plane), appends the
/// history and the audit log, and enqueues <see cref="DeploymentChanged"/>, all in one transaction.
/// </summary>
public static class DeploymentsApi
{
    public const int MaxHistory = 1000;

    public static void MapDeploymentsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("Deployments");
        api.MapPut("/models/{model}/deployment", DeployAsync).RequireAuthorization(Policies.Operate).WithName("Deploy")
            .WithSummary("Set the model's traffic: a production version, an optional canary and shadow, and how assignment sticks.");
        api.MapGet("/models/{model}/deployment", GetAsync).WithName("GetDeployment").WithSummary("The model's current traffic.");
        api.MapGet("/models/{model}/deployment/history", HistoryAsync).WithName("GetDeploymentHistory")
            .WithSummary("Every traffic change of the model, newest first, with who, when, why and the deployment before and after.");
        api.MapPost("/models/{model}/rollback", RollbackAsync).RequireAuthorization(Policies.Operate).WithName("Rollback")
            .WithSummary("Serve the previous production version (or the one named) on all traffic; canary and shadow end.");
        api.MapGet("/deployments", ListAsync).WithName("ListDeployments").WithSummary("Every deployed model's current traffic.");
    }

    public static async Task<Results<Ok<DeploymentView>, ValidationProblem, ProblemHttpResult>> DeployAsync(
        string model, DeploymentRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        request ??= new DeploymentRequest();
        if (request.Validate() is { Count: > 0 } invalid)
        {
            return Invalid(invalid);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await LockModelAsync(connection, transaction, model, cancellationToken))
        {
            return ModelsApi.ModelNotFound(model);
        }

        if (await Rollouts.RolloutsApi.InProgressAsync(connection, transaction, model, "change the traffic by hand", cancellationToken) is { } inProgress)
        {
            return inProgress;
        }

        var versions = new List<(string Field, int Version)> { ("production", request.Production!.Value) };
        if (request.Canary is { Version: { } canary })
        {
            versions.Add(("canary.version", canary));
        }

        if (request.Shadow is { Version: { } shadow })
        {
            versions.Add(("shadow.version", shadow));
        }

        if (await CheckVersionsAsync(connection, transaction, model, versions, cancellationToken) is { Count: > 0 } unservable)
        {
            return Invalid(unservable);
        }

        var current = await ReadCurrentAsync(connection, transaction, model, cancellationToken);
        var next = new Traffic(
            request.Production.Value,
            request.Canary is null ? null : new CanaryTraffic(request.Canary.Version!.Value, request.Canary.Percent!.Value, request.Canary.AutoPromote),
            request.Shadow is null ? null : new ShadowTraffic(request.Shadow.Version!.Value, request.Shadow.Percent!.Value),
            request.StickyBy);
        if (current is not null && Traffic.Of(current) == next)
        {
            // Scripts re-apply the deployment they want; the same traffic is not a new revision.
            return TypedResults.Ok(current);
        }

        var changed = await ChangeAsync(
            connection, transaction, model, current, next, DeploymentActions.Deploy, Actor(user), request.Reason, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(changed);
    }

    public static async Task<Results<Ok<DeploymentView>, ValidationProblem, ProblemHttpResult>> RollbackAsync(
        string model, RollbackRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        request ??= new RollbackRequest();
        var errors = new List<FieldError>();
        if (request.Version is < 1)
        {
            errors.Add(new("version", "must be a version number (1 or more)."));
        }

        if (request.Reason is { Length: > DeploymentRequest.MaxReasonLength })
        {
            errors.Add(new("reason", $"must be at most {DeploymentRequest.MaxReasonLength} characters."));
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await LockModelAsync(connection, transaction, model, cancellationToken))
        {
            return ModelsApi.ModelNotFound(model);
        }

        if (await Rollouts.RolloutsApi.InProgressAsync(connection, transaction, model, "roll back by hand", cancellationToken) is { } inProgress)
        {
            return inProgress;
        }

        var current = await ReadCurrentAsync(connection, transaction, model, cancellationToken);
        if (current is null)
        {
            return NothingToRollBack($"Model '{model}' has never been deployed.");
        }

        var target = request.Version ?? DeploymentRequest.PreviousProduction(
            current.Production, await HistoryProductionsAsync(connection, transaction, model, cancellationToken));
        if (target is not { } version)
        {
            return NothingToRollBack($"Model '{model}' has only ever served version {current.Production} in production.");
        }

        if (await CheckVersionsAsync(connection, transaction, model, [("version", version)], cancellationToken) is { Count: > 0 } unservable)
        {
            return Invalid(unservable);
        }

        var next = new Traffic(version, null, null, current.StickyBy);
        if (Traffic.Of(current) == next)
        {
            return NothingToRollBack($"Model '{model}' already serves version {version} on all traffic.");
        }

        var changed = await ChangeAsync(
            connection, transaction, model, current, next, DeploymentActions.Rollback, Actor(user), request.Reason, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(changed);
    }

    public static async Task<Results<Ok<DeploymentView>, ProblemHttpResult>> GetAsync(string model, NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(SelectDeployments + " WHERE model = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var found = await ReadAsync(command, cancellationToken);
        return found.Count == 1
            ? TypedResults.Ok(found[0])
            : TypedResults.Problem(title: "Deployment not found", detail: $"Model '{model}' is not deployed (or does not exist).", statusCode: StatusCodes.Status404NotFound);
    }

    public static async Task<Ok<DeploymentList>> ListAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(SelectDeployments + " ORDER BY model");
        return TypedResults.Ok(new DeploymentList(await ReadAsync(command, cancellationToken)));
    }

    public static async Task<Results<Ok<DeploymentHistory>, ProblemHttpResult>> HistoryAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken, int limit = 100)
    {
        if (await ModelsApi.FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        await using var command = database.CreateCommand($"""
            SELECT revision, at, actor, action, reason, deployment::text, previous::text
            FROM registry.deployment_history
            WHERE model = $1
            ORDER BY revision DESC
            LIMIT {Math.Clamp(limit, 1, MaxHistory)}
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var entries = new List<DeploymentHistoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new DeploymentHistoryEntry(
                reader.GetInt64(0),
                reader.GetFieldValue<DateTimeOffset>(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                JsonSerializer.Deserialize<JsonElement>(reader.GetString(5)),
                reader.IsDBNull(6) ? null : JsonSerializer.Deserialize<JsonElement>(reader.GetString(6))));
        }

        return TypedResults.Ok(new DeploymentHistory(model, entries));
    }

    /// <summary>The traffic part of a deployment: what decides whether a change is a change.</summary>
    internal sealed record Traffic(int Production, CanaryTraffic? Canary, ShadowTraffic? Shadow, string? StickyBy)
    {
        public static Traffic Of(DeploymentView deployment) => new(deployment.Production, deployment.Canary, deployment.Shadow, deployment.StickyBy);
    }

    internal static async Task<DeploymentView> ChangeAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, DeploymentView? current, Traffic next,
        string action, string actor, string? reason, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        var revision = (current?.Revision ?? 0) + 1;
        DateTimeOffset updatedAt;
        await using (var upsert = new NpgsqlCommand("""
            INSERT INTO registry.deployments
                (model, revision, production, canary_version, canary_percent, auto_promote, shadow_version, shadow_percent, sticky_by, updated_at, updated_by, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10, $11)
            ON CONFLICT (model) DO UPDATE SET
                revision = EXCLUDED.revision, production = EXCLUDED.production,
                canary_version = EXCLUDED.canary_version, canary_percent = EXCLUDED.canary_percent, auto_promote = EXCLUDED.auto_promote,
                shadow_version = EXCLUDED.shadow_version, shadow_percent = EXCLUDED.shadow_percent, sticky_by = EXCLUDED.sticky_by,
                updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason
            RETURNING updated_at
            """, connection, transaction))
        {
            upsert.Parameters.Add(new NpgsqlParameter { Value = model });
            upsert.Parameters.Add(new NpgsqlParameter { Value = revision });
            upsert.Parameters.Add(new NpgsqlParameter { Value = next.Production });
            upsert.Parameters.Add(OrNull(next.Canary?.Version, NpgsqlDbType.Integer));
            upsert.Parameters.Add(OrNull(next.Canary?.Percent, NpgsqlDbType.Double));
            upsert.Parameters.Add(new NpgsqlParameter { Value = next.Canary?.AutoPromote ?? false });
            upsert.Parameters.Add(OrNull(next.Shadow?.Version, NpgsqlDbType.Integer));
            upsert.Parameters.Add(OrNull(next.Shadow?.Percent, NpgsqlDbType.Double));
            upsert.Parameters.Add(OrNull(next.StickyBy, NpgsqlDbType.Text));
            upsert.Parameters.Add(new NpgsqlParameter { Value = actor });
            upsert.Parameters.Add(OrNull(reason, NpgsqlDbType.Text));
            await using var reader = await upsert.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            updatedAt = reader.GetFieldValue<DateTimeOffset>(0);
        }

        var deployment = new DeploymentView(model, revision, next.Production, next.Canary, next.Shadow, next.StickyBy, updatedAt, actor, reason);
        await using (var history = new NpgsqlCommand("""
            INSERT INTO registry.deployment_history (model, revision, at, actor, action, reason, deployment, previous)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)
            """, connection, transaction))
        {
            history.Parameters.Add(new NpgsqlParameter { Value = model });
            history.Parameters.Add(new NpgsqlParameter { Value = revision });
            history.Parameters.Add(new NpgsqlParameter { Value = updatedAt });
            history.Parameters.Add(new NpgsqlParameter { Value = actor });
            history.Parameters.Add(new NpgsqlParameter { Value = action });
            history.Parameters.Add(OrNull(reason, NpgsqlDbType.Text));
            history.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(deployment, json) });
            history.Parameters.Add(OrNull(current is null ? null : JsonSerializer.Serialize(current, json), NpgsqlDbType.Text));
            await history.ExecuteNonQueryAsync(cancellationToken);
        }

        await Audit.WriteAsync(
            connection, transaction, actor, $"deployment.{action}", model, new { revision, reason, deployment, previous = current }, json, cancellationToken);
        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, new DeploymentChanged(
            model,
            revision,
            next.Production,
            next.Canary?.Version,
            next.Canary?.Percent,
            next.Shadow?.Version,
            next.Shadow?.Percent,
            next.StickyBy,
            action,
            actor,
            reason,
            updatedAt), cancellationToken);
        return deployment;
    }

    /// <summary>
    /// Locks the model's row so that changes to one model's traffic serialise, including the first
    /// (when there is no deployment row yet to lock). NO KEY UPDATE leaves rows that reference the
    /// model (data, versions) free to be written meanwhile. False when there is no such model.
    /// </summary>
    internal static async Task<bool> LockModelAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT 1 FROM registry.models WHERE name = $1 FOR NO KEY UPDATE", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    internal static async Task<DeploymentView?> ReadCurrentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(SelectDeployments + " WHERE model = $1 FOR UPDATE", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var found = await ReadAsync(command, cancellationToken);
        return found.Count == 1 ? found[0] : null;
    }

    /// <summary>
    /// Each named version must exist for the model and have passed parity (its ONNX export agreed
    /// with the trained model). The registry registers only versions that passed, so a version
    /// without a finite parity result means something wrote it around the registry.
    /// </summary>
    internal static async Task<List<FieldError>> CheckVersionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, IReadOnlyList<(string Field, int Version)> versions, CancellationToken cancellationToken)
    {
        var parity = new Dictionary<int, double?>();
        await using (var command = new NpgsqlCommand(
            "SELECT version, parity_max_rel_diff FROM registry.model_versions WHERE model = $1 AND version = ANY($2)", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = model });
            command.Parameters.Add(new NpgsqlParameter { Value = versions.Select(v => v.Version).Distinct().ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                parity[reader.GetInt32(0)] = reader.IsDBNull(1) ? null : reader.GetDouble(1);
            }
        }

        var errors = new List<FieldError>();
        foreach (var (field, version) in versions)
        {
            if (!parity.TryGetValue(version, out var diff))
            {
                errors.Add(new(field, $"model '{model}' has no version {version}."));
            }
            else if (diff is not { } value || !double.IsFinite(value))
            {
                errors.Add(new(field, $"version {version} has no parity result: only versions whose ONNX export matched the trained model can serve."));
            }
        }

        return errors;
    }

    private static async Task<List<int>> HistoryProductionsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT (deployment->>'production')::integer FROM registry.deployment_history
            WHERE model = $1 AND deployment->>'production' IS NOT NULL
            ORDER BY revision DESC
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var productions = new List<int>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            productions.Add(reader.GetInt32(0));
        }

        return productions;
    }

    private const string SelectDeployments = """
        SELECT model, revision, production, canary_version, canary_percent, auto_promote, shadow_version, shadow_percent,
               sticky_by, updated_at, updated_by, reason
        FROM registry.deployments
        """;

    private static async Task<List<DeploymentView>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var deployments = new List<DeploymentView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            deployments.Add(new DeploymentView(
                reader.GetString(0),
                reader.GetInt64(1),
                reader.GetInt32(2),
                reader.IsDBNull(3) ? null : new CanaryTraffic(reader.GetInt32(3), reader.GetDouble(4), reader.GetBoolean(5)),
                reader.IsDBNull(6) ? null : new ShadowTraffic(reader.GetInt32(6), reader.GetDouble(7)),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetFieldValue<DateTimeOffset>(9),
                reader.GetString(10),
                reader.IsDBNull(11) ? null : reader.GetString(11)));
        }

        return deployments;
    }

    private static NpgsqlParameter OrNull(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    private static string Actor(ClaimsPrincipal user) => user.Identity?.Name ?? "unknown";

    private static ValidationProblem Invalid(IEnumerable<FieldError> errors) => TypedResults.ValidationProblem(
        errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
        title: "The deployment request is not valid.");

    private static ProblemHttpResult NothingToRollBack(string detail) =>
        TypedResults.Problem(title: "Nothing to roll back to", detail: detail, statusCode: StatusCodes.Status409Conflict);
}
