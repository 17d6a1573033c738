using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using Flywheel.Contracts;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Registry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Registry.Keys;

/// <summary>
/// API keys, for admins only. A key is shown once, when created; the registry keeps its SHA-256.
/// Revoking sets <c>revoked_at</c>: the registry's authentication refuses the key from the next
/// request, and the row's trigger tells the gateways to drop it from their caches.
/// </summary>
public static class ApiKeysApi
{
    public const string KeyPrefix = "fw_";
    public const int KeyBytes = 32;
    public const int MaxNameLength = 100;
    public const int MaxModels = 1000;

    public static readonly IReadOnlySet<string> KnownRoles = new HashSet<string>(StringComparer.Ordinal) { Roles.Admin, Roles.Operator, Roles.Predictor, Roles.Viewer };

    public static void MapApiKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/keys").WithTags("Keys").RequireAuthorization(Policies.Administer);
        keys.MapPost("/", CreateAsync).WithName("CreateApiKey").WithSummary("Create a key with its roles, models and limits; the key is in this response only.");
        keys.MapGet("/", ListAsync).WithName("ListApiKeys").WithSummary("Every key, revoked ones too, without the keys themselves.");
        keys.MapDelete("/{id}", RevokeAsync).WithName("RevokeApiKey").WithSummary("Revoke a key: it stops working at once.");
        // Any valid key may ask who it is: the console checks a key this way when an operator signs in with it.
        app.MapGet("/api/keys/me", Me).RequireAuthorization().WithTags("Keys").WithName("GetOwnApiKey")
            .WithSummary("The presented key's id, name and roles.");
    }

    public static Ok<OwnApiKey> Me(ClaimsPrincipal user) => TypedResults.Ok(new OwnApiKey(
        Guid.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier)!),
        user.Identity?.Name ?? "unknown",
        [.. user.FindAll(ClaimTypes.Role).Select(role => role.Value)]));

    public static async Task<Results<Created<CreatedApiKey>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateApiKeyRequest? request, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        request ??= new CreateApiKeyRequest();
        var errors = Validate(request);
        if (errors.Count == 0 && request.Models is { } models)
        {
            errors.AddRange(await UnknownModelsAsync(database, models, cancellationToken));
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(
                errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The API key request is not valid.");
        }

        var id = Guid.CreateVersion7();
        var key = KeyPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(KeyBytes));
        var roles = request.Roles!.Distinct(StringComparer.Ordinal).ToArray();
        var scope = request.Models?.Distinct(StringComparer.Ordinal).ToArray();
        var actor = user.Identity?.Name ?? "unknown";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The name is what the audit and prediction logs record as the caller, so two live keys may
        // not share it; the lock makes two requests for one name take turns.
        await using (var lockName = new NpgsqlCommand(
            "SELECT pg_advisory_xact_lock(hashtextextended('registry.api_keys.name:' || $1, 0))", connection, transaction))
        {
            lockName.Parameters.Add(new NpgsqlParameter { Value = request.Name! });
            await lockName.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var taken = new NpgsqlCommand(
            "SELECT id FROM registry.api_keys WHERE name = $1 AND revoked_at IS NULL LIMIT 1", connection, transaction))
        {
            taken.Parameters.Add(new NpgsqlParameter { Value = request.Name! });
            if (await taken.ExecuteScalarAsync(cancellationToken) is Guid existing)
            {
                return TypedResults.Problem(
                    title: "The name is taken",
                    detail: $"Key {existing} is already named '{request.Name}'. A key's name is the caller in the audit and prediction logs, so live keys need distinct names: choose another, or revoke that key first (DELETE /api/keys/{existing}).",
                    statusCode: StatusCodes.Status409Conflict,
                    extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { ["name"] = ["is the name of a live key."] } });
            }
        }

        await using var insert = new NpgsqlCommand("""
            INSERT INTO registry.api_keys (id, name, key_hash, roles, models, requests_per_second, daily_quota, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING created_at
            """, connection, transaction);
        insert.Parameters.Add(new NpgsqlParameter { Value = id });
        insert.Parameters.Add(new NpgsqlParameter { Value = request.Name! });
        insert.Parameters.Add(new NpgsqlParameter { Value = ApiKeyHash.Compute(key) });
        insert.Parameters.Add(new NpgsqlParameter { Value = roles });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)scope ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)request.RequestsPerSecond ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)request.DailyQuota ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        insert.Parameters.Add(new NpgsqlParameter { Value = actor });
        var createdAt = (DateTime)(await insert.ExecuteScalarAsync(cancellationToken))!;

        // The audit records who made which key with what powers, never the key.
        await Audit.WriteAsync(
            connection, transaction, actor, "api_key.created", id.ToString(),
            new { name = request.Name, roles, models = scope, requests_per_second = request.RequestsPerSecond, daily_quota = request.DailyQuota },
            json.Value.SerializerOptions, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var created = new CreatedApiKey(
            id, request.Name!, key, roles, scope, request.RequestsPerSecond, request.DailyQuota, new DateTimeOffset(createdAt, TimeSpan.Zero), actor);
        return TypedResults.Created($"/api/keys/{id}", created);
    }

    public static async Task<Ok<ApiKeyList>> ListAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            SELECT id, name, roles, models, requests_per_second, daily_quota, created_at, created_by, revoked_at
            FROM registry.api_keys
            ORDER BY created_at, id
            """);
        var keys = new List<ApiKeyView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new ApiKeyView(
                reader.GetGuid(0),
                reader.GetString(1),
                reader.GetFieldValue<string[]>(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<string[]>(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetInt64(5),
                reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8)));
        }

        return TypedResults.Ok(new ApiKeyList(keys));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        Guid id, ClaimsPrincipal user, NpgsqlDataSource database, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Every live admin key is locked, so two admins revoking each other's keys at once cannot
        // leave the platform with none.
        var liveAdmins = new List<Guid>();
        await using (var admins = new NpgsqlCommand(
            "SELECT id FROM registry.api_keys WHERE revoked_at IS NULL AND $1 = ANY(roles) ORDER BY id FOR UPDATE", connection, transaction))
        {
            admins.Parameters.Add(new NpgsqlParameter { Value = Roles.Admin });
            await using var reader = await admins.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                liveAdmins.Add(reader.GetGuid(0));
            }
        }

        if (liveAdmins is [var last] && last == id)
        {
            return TypedResults.Problem(
                title: "The last admin key cannot be revoked",
                detail: "Revoking it would leave no key that can manage keys; create another admin key first.",
                statusCode: StatusCodes.Status409Conflict);
        }

        await using var revoke = new NpgsqlCommand("""
            UPDATE registry.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING name
            """, connection, transaction);
        revoke.Parameters.Add(new NpgsqlParameter { Value = id });
        if (await revoke.ExecuteScalarAsync(cancellationToken) is string name)
        {
            var actor = user.Identity?.Name ?? "unknown";
            await Audit.WriteAsync(connection, transaction, actor, "api_key.revoked", id.ToString(), new { name }, json.Value.SerializerOptions, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return TypedResults.NoContent();
        }

        // Not revoked now: either it already was (revoking is idempotent) or there is no such key.
        await using var exists = new NpgsqlCommand("SELECT 1 FROM registry.api_keys WHERE id = $1", connection, transaction);
        exists.Parameters.Add(new NpgsqlParameter { Value = id });
        return await exists.ExecuteScalarAsync(cancellationToken) is not null
            ? TypedResults.NoContent()
            : TypedResults.Problem(title: "API key not found", detail: $"There is no API key {id}.", statusCode: StatusCodes.Status404NotFound);
    }

    private static List<FieldError> Validate(CreateApiKeyRequest request)
    {
        var errors = new List<FieldError>();
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            errors.Add(new("name", "is required: it names the key's caller in the audit log and the prediction log."));
        }
        else if (request.Name.Length > MaxNameLength || request.Name.Any(char.IsControl))
        {
            errors.Add(new("name", $"must be at most {MaxNameLength} printable characters."));
        }

        if (request.Roles is not { Count: > 0 } roles)
        {
            errors.Add(new("roles", "is required: one or more of admin, operator, predictor, viewer."));
        }
        else
        {
            for (var i = 0; i < roles.Count; i++)
            {
                if (roles[i] is not { } role || !KnownRoles.Contains(role))
                {
                    errors.Add(new($"roles[{i}]", $"'{roles[i]}' is not a role: use admin, operator, predictor or viewer."));
                }
            }
        }

        if (request.Models is { } models)
        {
            if (models.Count == 0)
            {
                errors.Add(new("models", "must name at least one model, or be null for every model."));
            }
            else if (models.Count > MaxModels)
            {
                errors.Add(new("models", $"at most {MaxModels} models."));
            }
            else if (request.Roles is { } named && !named.Contains(Roles.Predictor))
            {
                errors.Add(new("models", "scopes what a predictor key may call; this key has no predictor role."));
            }

            for (var i = 0; i < Math.Min(models.Count, MaxModels); i++)
            {
                if (string.IsNullOrWhiteSpace(models[i]))
                {
                    errors.Add(new($"models[{i}]", "must be a model name."));
                }
            }
        }

        if (request.RequestsPerSecond is < 1)
        {
            errors.Add(new("requests_per_second", "must be 1 or more, or null for the gateway's default."));
        }

        if (request.DailyQuota is < 1)
        {
            errors.Add(new("daily_quota", "must be 1 or more, or null for the gateway's default."));
        }

        return errors;
    }

    private static async Task<List<FieldError>> UnknownModelsAsync(NpgsqlDataSource database, IReadOnlyList<string> models, CancellationToken cancellationToken)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = database.CreateCommand("SELECT name FROM registry.models WHERE name = ANY($1)"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = models.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                known.Add(reader.GetString(0));
            }
        }

        return [.. models.Select((model, i) => (model, i))
            .Where(m => !known.Contains(m.model))
            .Select(m => new FieldError($"models[{m.i}]", $"there is no model named '{m.model}'."))];
    }
}

/// <summary>The body of <c>POST /api/keys</c>; null limits mean the gateway's defaults, null models every model.</summary>
public sealed record CreateApiKeyRequest(
    string? Name = null,
    IReadOnlyList<string>? Roles = null,
    IReadOnlyList<string>? Models = null,
    int? RequestsPerSecond = null,
    long? DailyQuota = null);

/// <summary>A key as created: the only response that carries the key itself.</summary>
public sealed record CreatedApiKey(
    Guid Id,
    string Name,
    string Key,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string>? Models,
    int? RequestsPerSecond,
    long? DailyQuota,
    DateTimeOffset CreatedAt,
    string CreatedBy);

/// <summary>A key as listed: never the key, never its hash.</summary>
public sealed record ApiKeyView(
    Guid Id,
    string Name,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string>? Models,
    int? RequestsPerSecond,
    long? DailyQuota,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    DateTimeOffset? RevokedAt);

/// <summary>What <c>GET /api/keys/me</c> says about the key that asked.</summary>
public sealed record OwnApiKey(Guid Id, string Name, IReadOnlyList<string> Roles);

public sealed record ApiKeyList(IReadOnlyList<ApiKeyView> Keys);
