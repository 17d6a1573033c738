using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Flywheel.Core.Serving;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Security;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c> against the
/// hashed, unrevoked keys in <c>registry.api_keys</c>; the key's roles become role claims. Every
/// service that serves part of the public /api surface checks the key itself with this one
/// handler, so a key means the same everywhere and no service trusts a header the gateway could
/// be bypassed around.
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

public static class ApiKeyAuthenticationExtensions
{
    /// <summary>Makes API keys the default authentication scheme; each service adds its own authorization policies.</summary>
    public static AuthenticationBuilder AddApiKeyAuthentication(this IHostApplicationBuilder builder) =>
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
}

/// <summary>Appends to the platform's audit log (<c>registry.audit_log</c>) inside the transaction of the change it records.</summary>
public static class Audit
{
    public static async Task WriteAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string actor, string action, string subject, object detail,
        JsonSerializerOptions options, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "INSERT INTO registry.audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4::jsonb)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = actor });
        command.Parameters.Add(new NpgsqlParameter { Value = action });
        command.Parameters.Add(new NpgsqlParameter { Value = subject });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(detail, options) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
