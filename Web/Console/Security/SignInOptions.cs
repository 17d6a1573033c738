using System.ComponentModel.DataAnnotations;

namespace Flywheel.Console.Security;

/// <summary>
/// How people sign in to the console, from <c>Flywheel:Console</c>: the console's own service key
/// (role <c>console</c>), which it acts with for whoever is signed in; local accounts for
/// development; OpenID Connect (Microsoft Entra ID) when an authority and client are configured.
/// </summary>
public sealed class SignInOptions
{
    public const string Section = "Flywheel:Console";

    /// <summary>The console's service API key; without it only API-key sign-in works.</summary>
    public string? ServiceKey { get; set; }

    /// <summary>Local accounts, for development and for platforms without an identity provider.</summary>
    public List<LocalAccount> Accounts { get; set; } = [];

    public OidcOptions Oidc { get; set; } = new();

    /// <summary>How long a sign-in lasts without use; each request within it renews it.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    public bool DelegationConfigured => !string.IsNullOrEmpty(ServiceKey);

    public bool LocalAccountsEnabled => DelegationConfigured && Accounts.Count > 0;

    public bool OidcEnabled => DelegationConfigured && Oidc.Configured;

    /// <summary>What is wrong with the settings, as sentences; empty when they can be used.</summary>
    public IEnumerable<string> Problems()
    {
        if ((Accounts.Count > 0 || Oidc.Configured) && !DelegationConfigured)
        {
            yield return "Flywheel:Console:ServiceKey is required for local accounts and OpenID Connect: the console acts with it for the person signed in.";
        }

        if (SessionLifetime <= TimeSpan.Zero)
        {
            yield return "Flywheel:Console:SessionLifetime must be positive.";
        }

        for (var i = 0; i < Accounts.Count; i++)
        {
            var account = Accounts[i];
            if (Flywheel.Security.ConsoleDelegation.Parse(account.Name, string.Join(',', account.Roles)) is null)
            {
                yield return $"Flywheel:Console:Accounts:{i}: the name must be 1-256 letters, digits, spaces or @._-+' and the roles lower-case words.";
            }

            if (string.IsNullOrEmpty(account.PasswordHash) == string.IsNullOrEmpty(account.Password))
            {
                yield return $"Flywheel:Console:Accounts:{i}: set exactly one of PasswordHash (ASP.NET Core Identity format) and Password.";
            }
        }

        if (Accounts.GroupBy(a => a.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            yield return $"Flywheel:Console:Accounts: '{twice.Key}' is configured twice.";
        }

        if (!string.IsNullOrEmpty(Oidc.Authority) || !string.IsNullOrEmpty(Oidc.ClientId))
        {
            if (!Oidc.Configured)
            {
                yield return "Flywheel:Console:Oidc needs both Authority and ClientId.";
            }
            else if (!Uri.TryCreate(Oidc.Authority, UriKind.Absolute, out var authority) ||
                     !(authority.Scheme == Uri.UriSchemeHttps || (authority.Scheme == Uri.UriSchemeHttp && authority.IsLoopback)))
            {
                yield return "Flywheel:Console:Oidc:Authority must be an https URL (plain http only on loopback, for tests).";
            }
        }
    }
}

/// <summary>A local account: its name as the audit log shows it, its roles, and its password.</summary>
public sealed class LocalAccount
{
    [Required]
    public string Name { get; set; } = "";

    public List<string> Roles { get; set; } = [];

    /// <summary>The password in ASP.NET Core Identity's <c>PasswordHasher</c> format (V3: PBKDF2).</summary>
    public string? PasswordHash { get; set; }

    /// <summary>
    /// The password itself: only for the development account the AppHost generates, whose password
    /// lives in the local data folder anyway. Everything else uses <see cref="PasswordHash"/>.
    /// </summary>
    public string? Password { get; set; }
}

/// <summary>OpenID Connect sign-in (Microsoft Entra ID or any other provider with code flow and PKCE).</summary>
public sealed class OidcOptions
{
    /// <summary>The issuer, e.g. <c>https://login.microsoftonline.com/{tenant}/v2.0</c>.</summary>
    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    /// <summary>What the sign-in page's button says.</summary>
    public string DisplayName { get; set; } = "Microsoft Entra ID";

    /// <summary>
    /// The token's <c>roles</c> claim values (Entra app roles) → Flywheel roles. Unmapped values
    /// grant nothing. Defaults map the app roles <c>Flywheel.Viewer</c>, <c>Flywheel.Operator</c>
    /// and <c>Flywheel.Admin</c>.
    /// </summary>
    public Dictionary<string, string> RoleMap { get; set; } = new(StringComparer.Ordinal)
    {
        ["Flywheel.Viewer"] = Contracts.Roles.Viewer,
        ["Flywheel.Operator"] = Contracts.Roles.Operator,
        ["Flywheel.Admin"] = Contracts.Roles.Admin,
    };

    public bool Configured => !string.IsNullOrEmpty(Authority) && !string.IsNullOrEmpty(ClientId);
}
