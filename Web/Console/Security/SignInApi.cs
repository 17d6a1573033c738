using Flywheel.Console.Display;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Flywheel.Console.Security;

/// <summary>
/// Sign-in and sign-out as plain form POSTs: a Blazor circuit cannot set a cookie, so the sign-in
/// page posts here (with its antiforgery token) and the browser comes back with the cookie.
/// </summary>
public static partial class SignInApi
{
    public const string CookieScheme = CookieAuthenticationDefaults.AuthenticationScheme;
    public const string OidcScheme = "oidc";
    public const string SignInPath = "/account/sign-in";
    public const string OidcSignInPath = "/account/sign-in/oidc";
    public const string SignOutPath = "/account/sign-out";

    /// <summary>Why the sign-in page was shown again (<c>?failed=</c>).</summary>
    public const string FailedPassword = "password";
    public const string FailedLocked = "locked";
    public const string FailedProvider = "provider";

    public static void MapSignInApi(this IEndpointRouteBuilder app)
    {
        // [FromForm] parameters make the antiforgery middleware's verdict binding: a post without the token is a 400.
        app.MapPost(SignInPath, SignInAsync).ExcludeFromDescription();
        app.MapPost(SignOutPath, SignOutAsync).ExcludeFromDescription();
        app.MapGet(OidcSignInPath, ChallengeOidc).ExcludeFromDescription();
    }

    public static async Task<IResult> SignInAsync(
        [FromForm] string? name, [FromForm] string? password, [FromForm(Name = "return")] string? returnUrl,
        HttpContext context, LocalAccounts accounts, IOptionsMonitor<SignInOptions> options, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(SignInApi));
        var back = Links.LocalOrHome(returnUrl);
        if (!options.CurrentValue.LocalAccountsEnabled)
        {
            return TypedResults.NotFound();
        }

        var check = accounts.Check(name, password);
        if (check.Account is not { } account ||
            ConsolePrincipal.Create(account.Name, account.Roles, ConsolePrincipal.Local, CookieScheme) is not { } principal)
        {
            LogRefused(logger, Bounded(name), check.LockedFor is not null);
            var failed = check.LockedFor is null ? FailedPassword : FailedLocked;
            return TypedResults.LocalRedirect($"/sign-in?failed={failed}&return={Uri.EscapeDataString(back)}");
        }

        await context.SignInAsync(CookieScheme, principal);
        LogSignedIn(logger, account.Name, ConsolePrincipal.Local);
        return TypedResults.LocalRedirect(back);
    }

    public static async Task<IResult> SignOutAsync(HttpContext context, IAntiforgery antiforgery)
    {
        try
        {
            await antiforgery.ValidateRequestAsync(context);
        }
        catch (AntiforgeryValidationException)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The sign-out form is not valid.",
                detail: "Reload the page and sign out again.");
        }

        await context.SignOutAsync(CookieScheme);
        return TypedResults.LocalRedirect("/");
    }

    public static IResult ChallengeOidc([FromQuery(Name = "return")] string? returnUrl, IOptionsMonitor<SignInOptions> options) =>
        options.CurrentValue.OidcEnabled
            ? TypedResults.Challenge(new AuthenticationProperties { RedirectUri = Links.LocalOrHome(returnUrl) }, [OidcScheme])
            : TypedResults.NotFound();

    private static string Bounded(string? name) => name is null ? "" : name.Length <= 64 ? name : name[..64];

    [LoggerMessage(Level = LogLevel.Information, Message = "{Name} signed in to the console ({Method})")]
    public static partial void LogSignedIn(ILogger logger, string name, string method);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A console sign-in as {Name} was refused (locked: {Locked})")]
    private static partial void LogRefused(ILogger logger, string name, bool locked);
}
