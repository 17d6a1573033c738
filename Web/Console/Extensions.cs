using Flywheel.Console.Platform;
using Flywheel.Console.Security;
using Flywheel.Contracts;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Flywheel.Console;

internal static class Extensions
{
    public static void AddConsoleServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddOptions<ConsoleOptions>()
            .BindConfiguration(ConsoleOptions.Section)
            .Validate(options => options.RunRefreshInterval > TimeSpan.Zero, "Console:RunRefreshInterval must be positive.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHttpClient<PlatformClient>(client =>
        {
            client.BaseAddress = new Uri($"https+http://{ResourceNames.Registry}");
            client.Timeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddHttpClient<MonitorClient>(client =>
        {
            client.BaseAddress = new Uri($"https+http://{ResourceNames.DriftMonitor}");
            client.Timeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddScoped<OperatorSession>();
        Radzen.ServiceCollectionExtensions.AddRadzenComponents(builder.Services);
        builder.AddConsoleDataProtection();
        builder.AddConsoleSignIn();
    }

    /// <summary>The sign-in cookie, local accounts and, when configured, OpenID Connect (docs/console.md, "Signing in").</summary>
    private static void AddConsoleSignIn(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SignInOptions>().BindConfiguration(SignInOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<SignInOptions>, SignInOptionsValidator>();
        builder.Services.AddSingleton<LocalAccounts>();
        var settings = builder.Configuration.GetSection(SignInOptions.Section).Get<SignInOptions>() ?? new SignInOptions();

        var authentication = builder.Services.AddAuthentication(SignInApi.CookieScheme).AddCookie(SignInApi.CookieScheme, cookie =>
        {
            cookie.Cookie.Name = "flywheel.console";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            cookie.ExpireTimeSpan = settings.SessionLifetime > TimeSpan.Zero ? settings.SessionLifetime : TimeSpan.FromHours(8);
            cookie.SlidingExpiration = true;
            cookie.LoginPath = "/sign-in";
            cookie.AccessDeniedPath = "/sign-in";
            cookie.ReturnUrlParameter = "return";
        });
        builder.Services.AddCascadingAuthenticationState();

        if (settings.OidcEnabled)
        {
            // The gateway forwards the public host; the provider's callback must come back to it, not to the console's own address.
            builder.Services.Configure<ForwardedHeadersOptions>(forwarded => forwarded.ForwardedHeaders |= ForwardedHeaders.XForwardedHost);
            authentication.AddOpenIdConnect(SignInApi.OidcScheme, settings.Oidc.DisplayName, oidc => ConfigureOidc(oidc, settings.Oidc));
        }
    }

    private static void ConfigureOidc(OpenIdConnectOptions oidc, OidcOptions settings)
    {
        var authority = new Uri(settings.Authority!);
        oidc.Authority = settings.Authority;
        oidc.ClientId = settings.ClientId;
        oidc.ClientSecret = settings.ClientSecret;
        oidc.SignInScheme = SignInApi.CookieScheme;
        oidc.ResponseType = "code";
        oidc.UsePkce = true;
        oidc.Scope.Clear();
        foreach (var scope in new[] { "openid", "profile", "email" })
        {
            oidc.Scope.Add(scope);
        }

        oidc.CallbackPath = "/signin-oidc";
        oidc.MapInboundClaims = false;
        oidc.SaveTokens = false;
        oidc.GetClaimsFromUserInfoEndpoint = false;
        // Plain http only for a provider on this machine (the tests' provider); anything else must be https.
        oidc.RequireHttpsMetadata = !(authority.Scheme == Uri.UriSchemeHttp && authority.IsLoopback);
        oidc.Events.OnTokenValidated = context =>
        {
            var name = ConsolePrincipal.NameFrom(context.Principal!);
            var roles = ConsolePrincipal.MapRoles(context.Principal!.FindAll("roles").Select(claim => claim.Value), settings.RoleMap);
            if (name is null || ConsolePrincipal.Create(name, roles, ConsolePrincipal.Oidc, SignInApi.OidcScheme) is not { } principal)
            {
                context.Fail("The identity provider gave no name the platform can record.");
                return Task.CompletedTask;
            }

            context.Principal = principal;
            SignInApi.LogSignedIn(context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SignInApi)), name, ConsolePrincipal.Oidc);
            return Task.CompletedTask;
        };
        oidc.Events.OnRemoteFailure = context =>
        {
            context.Response.Redirect($"/sign-in?failed={SignInApi.FailedProvider}");
            context.HandleResponse();
            return Task.CompletedTask;
        };
    }
}

/// <summary>Refuses to start with sign-in settings that cannot work, saying which.</summary>
internal sealed class SignInOptionsValidator : IValidateOptions<SignInOptions>
{
    public ValidateOptionsResult Validate(string? name, SignInOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
