using System.Security.Claims;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Contracts.Training;
using Flywheel.Core.Training;
using Flywheel.Registry.Models;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Training;

/// <summary>
/// Training runs (API.md, "Training and versions"). A request is recorded and its
/// <see cref="TrainingRunRequested"/> written to the outbox in one transaction; the orchestrator
/// runs it. A run's progress is read from the orchestrator's state (read-only).
/// </summary>
public static class TrainingRunsApi
{
    public static readonly IReadOnlySet<string> Trainers = new HashSet<string>(StringComparer.Ordinal) { "lightgbm", "fasttree", "sdca", "auto" };

    private static readonly Dictionary<string, TrainerKind> TrainerKinds = new(StringComparer.Ordinal)
    {
        ["lightgbm"] = TrainerKind.LightGbm,
        ["fasttree"] = TrainerKind.FastTree,
        ["sdca"] = TrainerKind.Sdca,
    };
    public const int MaxTrials = 100;
    public const int MaxHyperparameters = 50;

    public static void MapTrainingRunsApi(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api").WithTags("Training");
        runs.MapPost("/models/{model}/training-runs", StartAsync).RequireAuthorization(Policies.Operate).WithName("StartTrainingRun")
            .WithSummary("Train a new version of the model on a point-in-time snapshot of its data.");
        runs.MapGet("/models/{model}/training-runs", ListAsync).WithName("ListTrainingRuns").WithSummary("The model's training runs, newest first.");
        runs.MapGet("/training-runs/{runId}", GetAsync).WithName("GetTrainingRun").WithSummary("A run's state and its steps as they progress.");
    }

    public static async Task<Results<Accepted<TrainingRunAccepted>, ValidationProblem, ProblemHttpResult>> StartAsync(
        string model, TrainingRunRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        request ??= new TrainingRunRequest(null, null, null, null, null);
        var errors = Validate(request);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The training run request is not valid.");
        }

        if (await ModelsApi.FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        var runId = Guid.CreateVersion7();
        var actor = user.Identity?.Name ?? "unknown";
        var spec = new TrainingRunSpec(
            request.Trainer ?? "lightgbm",
            request.Hyperparameters,
            request.Search?.Trials ?? 0,
            request.Data?.From,
            request.Data?.To,
            request.Seed ?? Random.Shared.Next());
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        int? parent;
        await using (var latest = new NpgsqlCommand("SELECT max(version) FROM registry.model_versions WHERE model = $1", connection, transaction))
        {
            latest.Parameters.Add(new NpgsqlParameter { Value = model });
            parent = await latest.ExecuteScalarAsync(cancellationToken) is int version ? version : null;
        }

        var requested = new TrainingRunRequested(runId, model, spec, "manual", actor, parent, DateTimeOffset.UtcNow);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO registry.training_requests (run_id, model, spec, trigger, requested_by, requested_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = runId });
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(spec, json.Value.SerializerOptions) });
            insert.Parameters.Add(new NpgsqlParameter { Value = requested.Trigger });
            insert.Parameters.Add(new NpgsqlParameter { Value = actor });
            insert.Parameters.Add(new NpgsqlParameter { Value = requested.RequestedAt });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Registry, requested, cancellationToken);
        await Audit.WriteAsync(connection, transaction, actor, "training_run.requested", model, new { run_id = runId, spec }, json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted($"/api/training-runs/{runId}", new TrainingRunAccepted(runId));
    }

    public static async Task<Results<Ok<TrainingRunView>, ProblemHttpResult>> GetAsync(
        Guid runId, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var runs = await ReadAsync(database, "r.run_id = $1", new NpgsqlParameter { Value = runId }, 1, json.Value.SerializerOptions, cancellationToken);
        return runs.Count == 1
            ? TypedResults.Ok(runs[0])
            : TypedResults.Problem(title: "Training run not found", detail: $"There is no training run {runId}.", statusCode: StatusCodes.Status404NotFound);
    }

    public static async Task<Results<Ok<TrainingRunList>, ProblemHttpResult>> ListAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken, int limit = 50)
    {
        if (await ModelsApi.FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is null)
        {
            return ModelsApi.ModelNotFound(model);
        }

        var runs = await ReadAsync(database, "r.model = $1", new NpgsqlParameter { Value = model }, Math.Clamp(limit, 1, 500), json.Value.SerializerOptions, cancellationToken);
        return TypedResults.Ok(new TrainingRunList(runs));
    }

    private static Dictionary<string, string[]> Validate(TrainingRunRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.Trainer is { } trainer && !Trainers.Contains(trainer))
        {
            errors["trainer"] = [$"'{trainer}' is not a trainer: use lightgbm, fasttree, sdca or auto."];
        }

        if (request.Hyperparameters is { } hyperparameters)
        {
            if (hyperparameters.Count > MaxHyperparameters)
            {
                errors["hyperparameters"] = [$"at most {MaxHyperparameters} hyperparameters."];
            }

            if (request.Trainer == "auto" && hyperparameters.Count > 0)
            {
                errors["hyperparameters"] = ["apply to one trainer: name it instead of auto."];
            }
            else if (TrainerKinds.TryGetValue(request.Trainer ?? "lightgbm", out var kind))
            {
                foreach (var (name, messages) in Hyperparameters.Validate(kind, hyperparameters))
                {
                    errors[$"hyperparameters.{name}"] = messages;
                }
            }
        }

        if (request.Search?.Trials is { } trials && trials is < 0 or > MaxTrials)
        {
            errors["search.trials"] = [$"must be 0 to {MaxTrials}."];
        }

        if (request.Data is { From: { } from, To: { } to } && from >= to)
        {
            errors["data.from"] = ["must be before data.to."];
        }

        if (request.Seed is < 0)
        {
            errors["seed"] = ["must be 0 or more."];
        }

        return errors;
    }

    private static async Task<List<TrainingRunView>> ReadAsync(
        NpgsqlDataSource database, string filter, NpgsqlParameter parameter, int limit, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand($"""
            SELECT r.run_id, r.model, r.spec::text, r.trigger, r.requested_by, r.requested_at, t.current_state, t.data::text, t.updated_at
            FROM registry.training_requests r
            LEFT JOIN orchestration.training_runs t ON t.correlation_id = r.run_id
            WHERE {filter}
            ORDER BY r.requested_at DESC
            LIMIT {limit}
            """);
        command.Parameters.Add(parameter);
        var runs = new List<TrainingRunView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var spec = JsonSerializer.Deserialize<TrainingRunSpec>(reader.GetString(2), json)!;
            var state = reader.IsDBNull(6) ? null : reader.GetString(6);
            var saga = reader.IsDBNull(7) ? null : JsonSerializer.Deserialize<SagaData>(reader.GetString(7), Outbox.SerializerOptions);
            runs.Add(new TrainingRunView(
                reader.GetGuid(0),
                reader.GetString(1),
                state switch
                {
                    null => "queued",
                    "Succeeded" => "succeeded",
                    "Failed" => "failed",
                    _ => "running",
                },
                state?.ToLowerInvariant() ?? "queued",
                spec,
                reader.GetString(3),
                reader.GetString(4),
                reader.GetFieldValue<DateTimeOffset>(5),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                saga?.Steps ?? [],
                saga?.Trials ?? [],
                saga?.SnapshotId,
                saga?.SnapshotSha256,
                saga?.Trainer,
                saga?.Hyperparameters,
                saga?.Result?.Metrics,
                saga?.Error,
                saga?.ModelVersion));
        }

        return runs;
    }

    /// <summary>The part of the orchestrator's run state the API shows (its JSON, web naming).</summary>
    private sealed record SagaData(
        List<TrainingStep>? Steps, List<TrialView>? Trials, Guid? SnapshotId, string? SnapshotSha256, string? Trainer,
        Dictionary<string, double>? Hyperparameters, ModelTrained? Result, string? Error, int? ModelVersion);
}

public sealed record TrainingRunRequest(
    string? Trainer, Dictionary<string, double>? Hyperparameters, SearchRequest? Search, DataWindow? Data, int? Seed);

public sealed record SearchRequest(int? Trials);

public sealed record DataWindow(DateTimeOffset? From, DateTimeOffset? To);

public sealed record TrainingRunAccepted(Guid RunId);

public sealed record TrialView(int Trial, string? Trainer, Dictionary<string, double>? Hyperparameters, string? Metric, double? Value, string? Error);

public sealed record TrainingRunView(
    Guid RunId,
    string Model,
    string State,
    string Phase,
    TrainingRunSpec Spec,
    string Trigger,
    string RequestedBy,
    DateTimeOffset RequestedAt,
    DateTimeOffset? UpdatedAt,
    IReadOnlyList<TrainingStep> Steps,
    IReadOnlyList<TrialView> Trials,
    Guid? SnapshotId,
    string? SnapshotSha256,
    string? Trainer,
    IReadOnlyDictionary<string, double>? Hyperparameters,
    IReadOnlyDictionary<string, double>? Metrics,
    string? Error,
    int? Version);

public sealed record TrainingRunList(IReadOnlyList<TrainingRunView> Runs);
