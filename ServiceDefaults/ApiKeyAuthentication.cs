using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Core.Serving;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
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
/// be bypassed around. The console's service key (role <c>console</c>) is the one exception to
/// "a key is itself": with <see cref="ConsoleDelegation"/>'s headers it becomes the person signed in
/// to the console, and without them it has no role any endpoint accepts.
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

        var keyId = reader.GetGuid(0).ToString();
        var keyName = reader.GetString(1);
        var keyRoles = reader.GetFieldValue<string[]>(2);
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, keyId) };
        if (keyRoles.Contains(Roles.Console) && ConsoleDelegation.Presented(Request.Headers))
        {
            // The console acts for the person signed in to it: the audit log names that person, and
            // what they may do is their roles, never the console key's.
            if (ConsoleDelegation.Read(Request.Headers) is not { } person)
            {
                return AuthenticateResult.Fail("The X-Flywheel-User or X-Flywheel-User-Roles header is malformed.");
            }

            claims.Add(new Claim(ClaimTypes.Name, person.Name));
            claims.AddRange(person.Roles.Select(role => new Claim(ClaimTypes.Role, role)));
            claims.Add(new Claim(ConsoleDelegation.ViaClaim, keyName));
        }
        else
        {
            // Any other key is itself, whatever headers it sends along.
            claims.Add(new Claim(ClaimTypes.Name, keyName));
            claims.AddRange(keyRoles.Select(role => new Claim(ClaimTypes.Role, role)));
        }

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

/// <summary>A person the console acts for: their name and the roles the platform may grant them.</summary>
public sealed record DelegatedPerson(string Name, IReadOnlyList<string> Roles);

/// <summary>
/// How the console's service key (role <c>console</c>) says whom it acts for:
/// <c>X-Flywheel-User</c> (the person's name, as the audit log should show it) and
/// <c>X-Flywheel-User-Roles</c> (a comma list). Both are bounded and checked character by
/// character, since they end up in the audit log and in claims; roles other than viewer, operator
/// and admin are dropped, so the console can never hand out <c>console</c>, <c>predictor</c> or
/// anything it has not been told about.
/// </summary>
public static class ConsoleDelegation
{
    public const string UserHeader = "X-Flywheel-User";
    public const string RolesHeader = "X-Flywheel-User-Roles";

    /// <summary>On a delegated principal: the name of the console key that vouched for the person.</summary>
    public const string ViaClaim = "flywheel:via_console_key";

    public const int MaxUserLength = 256;
    public const int MaxRolesLength = 256;
    public const int MaxRoleLength = 32;

    /// <summary>Whether the request names a person at all (either header counts, so half a pair is refused, not ignored).</summary>
    public static bool Presented(IHeaderDictionary headers) => headers.ContainsKey(UserHeader) || headers.ContainsKey(RolesHeader);

    /// <summary>The person both headers name, or null when either is missing, repeated or malformed.</summary>
    public static DelegatedPerson? Read(IHeaderDictionary headers) =>
        headers.TryGetValue(UserHeader, out var user) && user.Count == 1 &&
        headers.TryGetValue(RolesHeader, out var roles) && roles.Count == 1
            ? Parse(user[0], roles[0])
            : null;

    /// <summary>
    /// The person, or null when the name or the role list is not acceptable. A name is 1–256
    /// printable ASCII characters from letters, digits, space and <c>@ . _ - + '</c>, not starting
    /// or ending with a space (an e-mail address, a user principal name or a plain name); the role
    /// list is empty or comma-separated lower-case tokens.
    /// </summary>
    public static DelegatedPerson? Parse(string? user, string? roles)
    {
        if (user is not { Length: > 0 and <= MaxUserLength } || user[0] == ' ' || user[^1] == ' ' || !user.All(IsNameCharacter) ||
            roles is null || roles.Length > MaxRolesLength)
        {
            return null;
        }

        var granted = new List<string>();
        if (!string.IsNullOrWhiteSpace(roles))
        {
            foreach (var entry in roles.Split(','))
            {
                var role = entry.Trim();
                if (role is not { Length: > 0 and <= MaxRoleLength } || !role.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-'))
                {
                    return null;
                }

                if (Roles.People.Contains(role) && !granted.Contains(role))
                {
                    granted.Add(role);
                }
            }
        }

        return new DelegatedPerson(user, granted);
    }

    private static bool IsNameCharacter(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or ' ' or '@' or '.' or '_' or '-' or '+' or '\'';
}

public static class ApiKeyAuthenticationExtensions
{
    /// <summary>
    /// Makes API keys the default authentication scheme, with refusals as ProblemDetails that say
    /// which key and role are needed; each service adds its own authorization policies.
    /// </summary>
    public static AuthenticationBuilder AddApiKeyAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, AuthorizationProblems>();
        return builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
    }
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
