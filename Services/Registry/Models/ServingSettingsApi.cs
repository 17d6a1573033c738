using System.Security.Claims;
using System.Text.Json;
using Flywheel.Core.Serving;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Models;

/// <summary>
/// How a model is served (<c>registry.models.serving</c>): micro-batching, the prediction cache and
/// the unknown-category policy. A PUT replaces them all; a field it leaves out takes its default.
/// The inference workers read the column.
/// </summary>
public static class ServingSettingsApi
{
    public static void MapServingSettingsApi(this IEndpointRouteBuilder app)
    {
        var serving = app.MapGroup("/api/models/{model}/serving").WithTags("Models");
        serving.MapPut("/", PutAsync).RequireAuthorization(Policies.Operate).WithName("PutServingSettings")
            .WithSummary("Set how the model is served: batching, cache and unknown categories; left-out fields take their defaults.");
        serving.MapGet("/", GetAsync).WithName("GetServingSettings").WithSummary("The model's serving settings, defaults filled in.");
    }

    public static async Task<Results<Ok<ServingSettings>, ValidationProblem, ProblemHttpResult>> PutAsync(
        string model, ServingSettings? settings, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        if (settings is null)
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["body"] = ["is required: the serving settings ({} for the defaults)."] },
                title: "The serving settings are not valid.");
        }

        if (settings.Validate() is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(
                errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The serving settings are not valid.");
        }

        var options = json.Value.SerializerOptions;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        ServingSettings previous;
        await using (var select = new NpgsqlCommand("SELECT serving::text FROM registry.models WHERE name = $1 FOR NO KEY UPDATE", connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = model });
            if (await select.ExecuteScalarAsync(cancellationToken) is not string stored)
            {
                return ModelsApi.ModelNotFound(model);
            }

            previous = Parse(stored, options);
        }

        await using (var update = new NpgsqlCommand("UPDATE registry.models SET serving = $2::jsonb WHERE name = $1", connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = model });
            update.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(settings, options) });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await Audit.WriteAsync(
            connection, transaction, user.Identity?.Name ?? "unknown", "model.serving_changed", model, new { serving = settings, previous }, options, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(settings);
    }

    public static async Task<Results<Ok<ServingSettings>, ProblemHttpResult>> GetAsync(
        string model, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT serving::text FROM registry.models WHERE name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return await command.ExecuteScalarAsync(cancellationToken) is string stored
            ? TypedResults.Ok(Parse(stored, json.Value.SerializerOptions))
            : ModelsApi.ModelNotFound(model);
    }

    /// <summary>The stored settings; what they leave out (all of it for a model never configured) takes the defaults.</summary>
    public static ServingSettings Parse(string stored, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize<ServingSettings>(stored, options) ?? ServingSettings.Default;
}
