using System.Security.Claims;
using System.Text.Encodings.Web;
using Flywheel.Core.Serving;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Security;

public static class Policies
{
    /// <summary>Models, data, training and deployments: operators and admins.</summary>
    public const string Operate = "operate";

    /// <summary>API keys: admins only, since a key can carry any role.</summary>
    public const string Administer = "administer";
}

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c> against the
/// hashed, unrevoked keys in <c>registry.api_keys</c>; the key's roles become role claims.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, NpgsqlDataSource database)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    private const int MaxKeyLength = 512;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = PresentedKey();
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (presented.Length > MaxKeyLength)
        {
            return AuthenticateResult.Fail("The API key is malformed.");
        }

        await using var command = database.CreateCommand(
            "SELECT id, name, roles FROM registry.api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
        command.Parameters.Add(new NpgsqlParameter { Value = ApiKeyHash.Compute(presented) });
        await using var reader = await command.ExecuteReaderAsync(Context.RequestAborted);
        if (!await reader.ReadAsync(Context.RequestAborted))
        {
            return AuthenticateResult.Fail("The API key is unknown or revoked.");
        }

        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, reader.GetGuid(0).ToString()),
            new(ClaimTypes.Name, reader.GetString(1)),
        };
        claims.AddRange(reader.GetFieldValue<string[]>(2).Select(role => new Claim(ClaimTypes.Role, role)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    private string? PresentedKey()
    {
        if (Request.Headers.TryGetValue("X-Api-Key", out var header) && header.Count == 1)
        {
            return header[0];
        }

        var authorization = Request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : null;
    }
}

/// <summary>
/// Makes sure the deployment's bootstrap admin key (<c>Flywheel:AdminKey</c>) exists, hashed, so
/// the first operator can sign in and create the real keys.
/// </summary>
public sealed class AdminKeyBootstrap(NpgsqlDataSource database, IConfiguration configuration, ILogger<AdminKeyBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration["Flywheel:AdminKey"] is not { Length: >= 32 } key)
        {
            logger.LogWarning("No bootstrap admin key (Flywheel:AdminKey, at least 32 characters) is configured");
            return;
        }

        await using var command = database.CreateCommand("""
            INSERT INTO registry.api_keys (id, name, key_hash, roles)
            VALUES ($1, 'bootstrap-admin', $2, ARRAY['admin'])
            ON CONFLICT (key_hash) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7() });
        command.Parameters.Add(new NpgsqlParameter { Value = ApiKeyHash.Compute(key) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
