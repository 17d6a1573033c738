using System.Security.Claims;
using Flywheel.Contracts;

namespace Flywheel.DriftMonitor.Security;

public static class Policies
{
    /// <summary>Changing a policy or evaluating on demand: operators and admins, as for the registry's changes.</summary>
    public const string Operate = "operate";
}

public static class SecurityExtensions
{
    /// <summary>The platform's API keys (<see cref="ApiKeyAuthenticationHandler"/>, shared with the registry) and the monitor's policy.</summary>
    public static void AddMonitorSecurity(this IHostApplicationBuilder builder)
    {
        builder.AddApiKeyAuthentication();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Operate, policy => policy.RequireRole(Roles.Admin, Roles.Operator));
    }

    public static string Actor(this ClaimsPrincipal user) => user.Identity?.Name ?? "unknown";
}
