using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// A request the authorization middleware refuses gets ProblemDetails that say what to do, as the
/// gateway's data-plane refusals do: 401 says how to present a key, 403 which roles the endpoint
/// needs and which the key has. The default answers were a bare status.
/// </summary>
public sealed class AuthorizationProblems(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded || context.Response.HasStarted)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        var needed = policy.Requirements.OfType<RolesAuthorizationRequirement>().SelectMany(r => r.AllowedRoles).Distinct().ToList();
        ProblemDetails problem;
        if (authorizeResult.Challenged || context.User.Identity?.IsAuthenticated != true)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "An API key is required.",
                Detail = "Present an API key as 'Authorization: Bearer <key>' or 'X-Api-Key'" +
                    (needed.Count > 0 ? $" with one of the roles {string.Join(", ", needed)}." : "."),
            };
        }
        else
        {
            var held = context.User.FindAll(ClaimTypes.Role).Select(c => c.Value).ToList();
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status403Forbidden,
                Title = "The API key may not do this.",
                Detail = $"The key '{context.User.Identity?.Name}' has the role{(held.Count == 1 ? "" : "s")} {(held.Count == 0 ? "(none)" : string.Join(", ", held))}" +
                    (needed.Count > 0 ? $"; this needs one of: {string.Join(", ", needed)}." : "; this is not allowed for it."),
            };
        }

        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }
}
