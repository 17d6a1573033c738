using System.Security.Claims;
using Flywheel.Contracts;
using Flywheel.Security;

namespace Flywheel.Console.Security;

/// <summary>
/// The principal the console's sign-in cookie carries, whichever way the person signed in: their
/// name (as the audit log will show it) and the Flywheel roles they hold, nothing else.
/// </summary>
public static class ConsolePrincipal
{
    public const string MethodClaim = "flywheel:sign_in";
    public const string Local = "local";
    public const string Oidc = "oidc";

    /// <summary>The principal, or null when the name or roles could not be sent on to the platform.</summary>
    public static ClaimsPrincipal? Create(string name, IEnumerable<string> roles, string method, string authenticationType)
    {
        if (ConsoleDelegation.Parse(name, string.Join(',', roles.Distinct(StringComparer.Ordinal))) is not { } person)
        {
            return null;
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, person.Name), new(MethodClaim, method) };
        claims.AddRange(person.Roles.Select(role => new Claim(ClaimTypes.Role, role)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType, ClaimTypes.Name, ClaimTypes.Role));
    }

    /// <summary>The Flywheel roles an identity provider's role values grant, by the configured map; unmapped values grant nothing.</summary>
    public static IReadOnlyList<string> MapRoles(IEnumerable<string> providerRoles, IReadOnlyDictionary<string, string> map) =>
        [.. providerRoles.Select(role => map.TryGetValue(role, out var mapped) ? mapped : null)
            .OfType<string>()
            .Where(role => Roles.People.Contains(role))
            .Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// The name a provider's token gives a person, best first: the user principal name or e-mail
    /// address (what people recognise in an audit log), then the display name. Null when none is
    /// usable (e.g. only non-ASCII characters).
    /// </summary>
    public static string? NameFrom(ClaimsPrincipal principal) =>
        new[] { "preferred_username", "upn", ClaimTypes.Upn, "email", ClaimTypes.Email, "name", ClaimTypes.Name }
            .Select(type => principal.FindFirst(type)?.Value)
            .FirstOrDefault(value => value is not null && ConsoleDelegation.Parse(value, "") is not null);
}
