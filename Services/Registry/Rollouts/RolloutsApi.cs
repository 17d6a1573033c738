using System.Security.Claims;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Contracts.Rollouts;
using Flywheel.Core.Retraining;
using Flywheel.Core.Rollouts;
using Flywheel.Registry.Deployments;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Rollouts;

/// <summary>
/// Retraining and rollouts (docs/rollouts.md). Requests go to the orchestrator through the
/// outbox, audited in the same transaction; what it decided and how a rollout is doing is read from
/// its state (read-only), as the training runs are.
/// </summary>
public static class RolloutsApi
{
    public const int MaxReasonLength = 500;

    /// <summary>Rollout states (the saga's) in which a rollout still holds the model's traffic.</summary>
    public static readonly string[] ActiveStates = ["Shadowing", "Canary", "AwaitingApproval", "Promoting", "RollingBack"];

    /// <summary>The states a rollout ends in; until its row reaches one, a requested rollout keeps others out.</summary>
    public static readonly string[] FinalStates = ["Promoted", "RolledBack", "Failed"];

    public static void MapRolloutsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/models/{model}").WithTags("Rollouts");
        api.MapPost("/retrain", RetrainAsync).RequireAuthorization(Policies.Operate).WithName("Retrain")
            .WithSummary("Retrain the model from its serving version's recipe on the policy's data window, if the cooldown and concurrency limit allow.");
        api.MapGet("/retraining", DecisionsAsync).WithName("ListRetrainingDecisions")
            .WithSummary("Every retraining trigger of the model, newest first: started (with its run) or skipped, and why.");
        api.MapPost("/rollouts", StartRolloutAsync).RequireAuthorization(Policies.Operate).WithName("StartRollout")
            .WithSummary("Roll a version out: shadow (optional), canary with automatic analysis, then promotion or rollback.");
        api.MapGet("/rollouts", ListRolloutsAsync).WithName("ListRollouts").WithSummary("The model's rollouts, newest first.");
        api.MapGet("/rollouts/{rolloutId}", GetRolloutAsync).WithName("GetRollout")
            .WithSummary("A rollout's state, timeline and every canary analysis with its checks.");
        api.MapPost("/rollouts/{rolloutId}/approve", ApproveAsync).RequireAuthorization(Policies.Operate).WithName("ApproveRollout")
            .WithSummary("Promote a passing canary that waits for approval.");
        api.MapPost("/rollouts/{rolloutId}/reject", RejectAsync).RequireAuthorization(Policies.Operate).WithName("RejectRollout")
            .WithSummary("Roll a rollout's new version back.");
    }

    public static async Task<Results<Accepted<RetrainAccepted>, ValidationProblem, ProblemHttpResult>> RetrainAsync(
        string model, RetrainRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        request ??= new RetrainRequest();
        if (request.Reason is { Length: > MaxReasonLength })
        {
            return Invalid("reason", $"must be at most {MaxReasonLength} characters.", "The retrain request is not valid.");
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await ModelExistsAsync(connection, transaction, model, cancellationToken))
        {
            return ModelsApi.ModelNotFound(model);
        }

        var actor = Actor(user);
        var requested = new RetrainingRequested(Guid.CreateVersion7(), model, actor, request.Reason, DateTimeOffset.UtcNow);
        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, requested, cancellationToken);
        await Audit.WriteAsync(connection, transaction, actor, "retraining.requested", model,
            new { request_id = requested.RequestId, reason = request.Reason }, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted($"/api/models/{model}/retraining", new RetrainAccepted(requested.RequestId));
    }

    public static async Task<Results<Ok<RetrainingDecisionList>, ProblemHttpResult>> DecisionsAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken, int limit = 100)
    {
        if (await ModelsApi.FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        await using var command = database.CreateCommand($"""
            SELECT id, trigger, decision, reason, run_id, parent_version, requested_by, detail::text, at
            FROM orchestration.retraining_decisions WHERE model = $1 ORDER BY at DESC LIMIT {Math.Clamp(limit, 1, 1000)}
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var decisions = new List<RetrainingDecisionView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            decisions.Add(new RetrainingDecisionView(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.GetString(6),
                JsonSerializer.Deserialize<JsonElement>(reader.GetString(7)), reader.GetFieldValue<DateTimeOffset>(8)));
        }

        return TypedResults.Ok(new RetrainingDecisionList(model, decisions));
    }

    public static async Task<Results<Accepted<RolloutAccepted>, ValidationProblem, ProblemHttpResult>> StartRolloutAsync(
        string model, StartRolloutRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        const string title = "The rollout request is not valid.";
        if (request?.Version is not { } version)
        {
            return Invalid("version", "is required: the version to roll out.", title);
        }

        if (request.Reason is { Length: > MaxReasonLength })
        {
            return Invalid("reason", $"must be at most {MaxReasonLength} characters.", title);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Serialises with deployment changes and other rollout requests of the model.
        if (!await DeploymentsApi.LockModelAsync(connection, transaction, model, cancellationToken))
        {
            return ModelsApi.ModelNotFound(model);
        }

        if (await DeploymentsApi.CheckVersionsAsync(connection, transaction, model, [("version", version)], cancellationToken) is { Count: > 0 } unservable)
        {
            return TypedResults.ValidationProblem(unservable.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()), title: title);
        }

        var current = await DeploymentsApi.ReadCurrentAsync(connection, transaction, model, cancellationToken);
        if (current is null)
        {
            return Conflict("Nothing to compare with", $"Model '{model}' is not deployed: deploy a first version (PUT /api/models/{model}/deployment), then roll out the next.");
        }

        if (current.Production == version)
        {
            return Conflict("Already in production", $"Model '{model}' already serves version {version} in production.");
        }

        if (await InProgressAsync(connection, transaction, model, "start another", cancellationToken) is { } inProgress)
        {
            return inProgress;
        }

        var actor = Actor(user);
        var requested = new RolloutRequested(Guid.CreateVersion7(), model, version, RetrainingTriggers.Manual, actor, DateTimeOffset.UtcNow);
        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, requested, cancellationToken);
        await Audit.WriteAsync(connection, transaction, actor, "rollout.requested", model,
            new { rollout_id = requested.RolloutId, version, production = current.Production, reason = request.Reason }, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted($"/api/models/{model}/rollouts/{requested.RolloutId}", new RolloutAccepted(requested.RolloutId));
    }

    public static async Task<Results<Ok<RolloutList>, ProblemHttpResult>> ListRolloutsAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken, int limit = 50)
    {
        if (await ModelsApi.FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        var rollouts = await ReadRolloutsAsync(database, model, null, Math.Clamp(limit, 1, 500), cancellationToken);
        return TypedResults.Ok(new RolloutList(model, rollouts));
    }

    public static async Task<Results<Ok<RolloutView>, ProblemHttpResult>> GetRolloutAsync(
        string model, Guid rolloutId, NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        var found = await ReadRolloutsAsync(database, model, rolloutId, 1, cancellationToken);
        return found.Count == 1 ? TypedResults.Ok(found[0]) : RolloutNotFound(model, rolloutId);
    }

    public static Task<Results<Accepted<RolloutView>, ValidationProblem, ProblemHttpResult>> ApproveAsync(
        string model, Guid rolloutId, DecisionRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json,
        CancellationToken cancellationToken) =>
        DecideAsync(model, rolloutId, request, approve: true, user, database, json, cancellationToken);

    public static Task<Results<Accepted<RolloutView>, ValidationProblem, ProblemHttpResult>> RejectAsync(
        string model, Guid rolloutId, DecisionRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json,
        CancellationToken cancellationToken) =>
        DecideAsync(model, rolloutId, request, approve: false, user, database, json, cancellationToken);

    private static async Task<Results<Accepted<RolloutView>, ValidationProblem, ProblemHttpResult>> DecideAsync(
        string model, Guid rolloutId, DecisionRequest? request, bool approve, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json,
        CancellationToken cancellationToken)
    {
        if (request?.Reason is { Length: > MaxReasonLength })
        {
            return Invalid("reason", $"must be at most {MaxReasonLength} characters.", "The decision is not valid.");
        }

        var found = await ReadRolloutsAsync(database, model, rolloutId, 1, cancellationToken);
        if (found.Count == 0)
        {
            return RolloutNotFound(model, rolloutId);
        }

        var rollout = found[0];
        // Approval is for a canary that passed; rejection stops a rollout at any point before it finished.
        var allowed = approve ? rollout.State == "awaiting_approval" : rollout.State is "shadowing" or "canary" or "awaiting_approval";
        if (!allowed)
        {
            return Conflict(approve ? "Nothing to approve" : "Nothing to reject",
                $"Rollout {rolloutId} is {rollout.State.Replace('_', ' ')}; " +
                (approve ? "only a canary that passed its analysis and awaits approval can be approved." : "only a rollout in progress can be rejected."));
        }

        var actor = Actor(user);
        var at = DateTimeOffset.UtcNow;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        object message = approve
            ? new RolloutApproved(rolloutId, actor, request?.Reason, at)
            : new RolloutRejected(rolloutId, actor, request?.Reason, at);
        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, message, cancellationToken);
        await Audit.WriteAsync(connection, transaction, actor, approve ? "rollout.approved" : "rollout.rejected", model,
            new { rollout_id = rolloutId, version = rollout.Version, reason = request?.Reason }, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted($"/api/models/{model}/rollouts/{rolloutId}", rollout);
    }

    private static async Task<bool> ModelExistsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT 1 FROM registry.models WHERE name = $1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static async Task<Guid?> ActiveRolloutAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT correlation_id FROM orchestration.rollouts WHERE model = $1 AND current_state = ANY($2) LIMIT 1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = ActiveStates });
        return await command.ExecuteScalarAsync(cancellationToken) as Guid?;
    }

    /// <summary>
    /// A 409 when a rollout of the model is in progress or about to start, null otherwise: while the
    /// orchestrator drives the model's traffic, a person takes over by rejecting the rollout, not by
    /// changing the traffic under it (its next step would act on a deployment it did not make).
    /// Called under the model's row lock.
    /// </summary>
    internal static async Task<ProblemHttpResult?> InProgressAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, string action, CancellationToken cancellationToken)
    {
        var (rolloutId, when) = await ActiveRolloutAsync(connection, transaction, model, cancellationToken) is { } active
            ? (active, "is in progress")
            : await PendingRolloutAsync(connection, transaction, model, cancellationToken) is { } pending
                ? (pending.RolloutId, $"was requested at {pending.At:u} and is about to start")
                : (Guid.Empty, null);
        return when is null
            ? null
            : Conflict("A rollout is in progress",
                $"Rollout {rolloutId} of model '{model}' {when}. To {action}, reject it first (POST /api/models/{model}/rollouts/{rolloutId}/reject), or wait for it to finish.");
    }

    /// <summary>How long a requested rollout that the orchestrator has not started yet keeps others out.</summary>
    public static readonly TimeSpan PendingRolloutHold = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A rollout of the model requested (and committed) whose row has not reached a final state:
    /// not yet taken by the orchestrator, which creates its row when it takes the request, or taken
    /// and in any state but an ending one. Without this, two requests moments apart both found no
    /// rollout in progress and both ran; and a CI run saw two of three concurrent requests accepted
    /// with the first not yet counted as active, so a row is trusted to have ended only when it says
    /// so. The model's row lock serialises the requests, so the second one sees the first's audit
    /// entry. A request older than <see cref="PendingRolloutHold"/> no longer blocks here (the
    /// orchestrator refuses a rollout while another is in progress in any case).
    /// </summary>
    private static async Task<(Guid RolloutId, DateTimeOffset At)?> PendingRolloutAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT (a.detail->>'rollout_id')::uuid, a.at FROM registry.audit_log a
            WHERE a.subject = $1 AND a.action = 'rollout.requested' AND a.at > now() - $2
              AND NOT EXISTS (SELECT 1 FROM orchestration.rollouts r
                              WHERE r.correlation_id = (a.detail->>'rollout_id')::uuid AND r.current_state = ANY($3))
            ORDER BY a.at DESC LIMIT 1
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = PendingRolloutHold });
        command.Parameters.Add(new NpgsqlParameter { Value = FinalStates });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1)) : null;
    }

    private static async Task<List<RolloutView>> ReadRolloutsAsync(NpgsqlDataSource database, string model, Guid? rolloutId, int limit, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand($"""
            SELECT correlation_id, current_state, data::text, created_at, updated_at FROM orchestration.rollouts
            WHERE model = $1 AND ($2::uuid IS NULL OR correlation_id = $2)
            ORDER BY created_at DESC LIMIT {limit}
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)rolloutId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        var rollouts = new List<RolloutView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var saga = JsonSerializer.Deserialize<SagaData>(reader.GetString(2), Outbox.SerializerOptions)!;
            rollouts.Add(new RolloutView(
                reader.GetGuid(0),
                model,
                saga.RolloutVersion,
                saga.Production,
                JsonNamingPolicy.SnakeCaseLower.ConvertName(reader.GetString(1)),
                saga.Trigger,
                saga.RequestedBy,
                saga.RequestedAt,
                reader.GetFieldValue<DateTimeOffset>(4),
                saga.RequireApproval,
                saga.Policy,
                saga.ShadowStartedAt,
                saga.CanaryStartedAt,
                saga.BakeEndsAt,
                saga.Reason,
                saga.Timeline ?? [],
                saga.Analyses ?? []));
        }

        return rollouts;
    }

    /// <summary>The part of the orchestrator's rollout state the API shows (its JSON, web naming).</summary>
    private sealed record SagaData(
        int RolloutVersion, int Production, string Trigger, string RequestedBy, DateTimeOffset RequestedAt, bool RequireApproval, RolloutPolicy? Policy,
        DateTimeOffset? ShadowStartedAt, DateTimeOffset? CanaryStartedAt, DateTimeOffset? BakeEndsAt, string? Reason,
        List<RolloutEventView>? Timeline, List<RolloutAnalysisView>? Analyses);

    private static string Actor(ClaimsPrincipal user) => user.Identity?.Name ?? "unknown";

    private static ValidationProblem Invalid(string field, string message, string title) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: title);

    private static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status409Conflict);

    private static ProblemHttpResult RolloutNotFound(string model, Guid rolloutId) =>
        TypedResults.Problem(title: "Rollout not found", detail: $"Model '{model}' has no rollout {rolloutId} (a rollout just requested appears once the orchestrator takes it).",
            statusCode: StatusCodes.Status404NotFound);
}

public sealed record RetrainRequest(string? Reason = null);

public sealed record RetrainAccepted(Guid RequestId);

public sealed record RetrainingDecisionView(
    Guid Id, string Trigger, string Decision, string Reason, Guid? RunId, int? ParentVersion, string RequestedBy, JsonElement Detail, DateTimeOffset At);

public sealed record RetrainingDecisionList(string Model, IReadOnlyList<RetrainingDecisionView> Decisions);

public sealed record StartRolloutRequest(int? Version, string? Reason = null);

public sealed record RolloutAccepted(Guid RolloutId);

public sealed record DecisionRequest(string? Reason = null);

/// <summary>One step of a rollout's timeline.</summary>
public sealed record RolloutEventView(DateTimeOffset At, string Event, string Detail);

/// <summary>One canary analysis: the verdict, its reason and every check with its numbers.</summary>
public sealed record RolloutAnalysisView(
    DateTimeOffset At, bool BakeComplete, CanaryOutcome Outcome, string Reason, IReadOnlyList<CanaryCheck> Checks, long ProductionRequests, long CanaryRequests);

public sealed record RolloutView(
    Guid RolloutId,
    string Model,
    int Version,
    int ProductionVersion,
    string State,
    string Trigger,
    string RequestedBy,
    DateTimeOffset RequestedAt,
    DateTimeOffset UpdatedAt,
    bool RequireApproval,
    RolloutPolicy? Policy,
    DateTimeOffset? ShadowStartedAt,
    DateTimeOffset? CanaryStartedAt,
    DateTimeOffset? BakeEndsAt,
    string? Reason,
    IReadOnlyList<RolloutEventView> Timeline,
    IReadOnlyList<RolloutAnalysisView> Analyses);

public sealed record RolloutList(string Model, IReadOnlyList<RolloutView> Rollouts);
