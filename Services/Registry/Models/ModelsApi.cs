using System.Security.Claims;
using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Models;

/// <summary>Models and their feature schemas: <c>POST /api/models</c>, <c>GET /api/models</c>, <c>GET /api/models/{model}</c>.</summary>
public static class ModelsApi
{
    public static RouteGroupBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var models = app.MapGroup("/api/models").WithTags("Models");
        models.MapPost("/", CreateAsync)
            .RequireAuthorization(Policies.Operate)
            .WithName("CreateModel")
            .WithSummary("Define a model: its features, target, task and policy.");
        models.MapGet("/", ListAsync).WithName("ListModels").WithSummary("Every model, by name.");
        models.MapGet("/{model}", GetAsync).WithName("GetModel").WithSummary("One model and its schema.");
        return models;
    }

    public static async Task<Results<Created<ModelResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateModelRequest request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var (schema, errors) = request.ToSchema();
        if (schema is not null)
        {
            errors.AddRange(SchemaRules.Check(schema));
        }

        errors.AddRange((request.Policy?.Validate() ?? []).Select(e => e with { Field = $"policy.{e.Field}" }));

        if (errors.Count > 0 || schema is null)
        {
            return TypedResults.ValidationProblem(
                errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The model definition is not valid.");
        }

        var actor = user.Identity?.Name ?? "unknown";
        var policy = request.Policy ?? new ModelPolicy();
        var options = json.Value.SerializerOptions;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO registry.models (name, task, entity_key, features, target, policy, created_by)
            VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7)
            RETURNING created_at
            """, connection, transaction);
        insert.Parameters.Add(new NpgsqlParameter { Value = schema.Name });
        insert.Parameters.Add(new NpgsqlParameter { Value = JsonNamingPolicy.SnakeCaseLower.ConvertName(schema.Task.ToString()) });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)schema.EntityKey ?? DBNull.Value });
        insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(schema.Features, options) });
        insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(schema.Target, options) });
        insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(policy, options) });
        insert.Parameters.Add(new NpgsqlParameter { Value = actor });
        DateTimeOffset createdAt;
        try
        {
            createdAt = new DateTimeOffset((DateTime)(await insert.ExecuteScalarAsync(cancellationToken))!, TimeSpan.Zero);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return TypedResults.Problem(
                title: "A model with this name exists",
                detail: $"The model '{schema.Name}' already exists; models are defined once.",
                statusCode: StatusCodes.Status409Conflict);
        }

        await Audit.WriteAsync(connection, transaction, actor, "model.created", schema.Name, new { task = schema.Task, features = schema.Features.Count }, options, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var model = new ModelResponse(schema.Name, schema.Task, schema.EntityKey, schema.Features, schema.Target, policy, createdAt, actor, ServingSettings.Default);
        return TypedResults.Created($"/api/models/{schema.Name}", model);
    }

    public static async Task<Ok<ModelList>> ListAsync(NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(SelectModels + " ORDER BY name");
        return TypedResults.Ok(new ModelList(await ReadAsync(command, json.Value.SerializerOptions, cancellationToken)));
    }

    public static async Task<Results<Ok<ModelResponse>, ProblemHttpResult>> GetAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken) =>
        await FindAsync(model, database, json.Value.SerializerOptions, cancellationToken) is { } found
            ? TypedResults.Ok(found)
            : ModelNotFound(model);

    public static async Task<ModelResponse?> FindAsync(string model, NpgsqlDataSource database, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(SelectModels + " WHERE name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var found = await ReadAsync(command, json, cancellationToken);
        return found.Count == 1 ? found[0] : null;
    }

    public static ProblemHttpResult ModelNotFound(string model) =>
        TypedResults.Problem(title: "Model not found", detail: $"There is no model named '{model}'.", statusCode: StatusCodes.Status404NotFound);

    private const string SelectModels =
        "SELECT name, task, entity_key, features::text, target::text, policy::text, created_at, created_by, serving::text FROM registry.models";

    private static async Task<List<ModelResponse>> ReadAsync(NpgsqlCommand command, JsonSerializerOptions options, CancellationToken cancellationToken)
    {
        var models = new List<ModelResponse>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            models.Add(new ModelResponse(
                reader.GetString(0),
                JsonSerializer.Deserialize<ModelTask>($"\"{reader.GetString(1)}\"", options),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                JsonSerializer.Deserialize<List<FeatureDefinition>>(reader.GetString(3), options)!,
                JsonSerializer.Deserialize<TargetDefinition>(reader.GetString(4), options)!,
                JsonSerializer.Deserialize<ModelPolicy>(reader.GetString(5), options)!,
                new DateTimeOffset(reader.GetDateTime(6), TimeSpan.Zero),
                reader.GetString(7),
                ServingSettingsApi.Parse(reader.GetString(8), options)));
        }

        return models;
    }
}

public sealed record ModelList(IReadOnlyList<ModelResponse> Models);
