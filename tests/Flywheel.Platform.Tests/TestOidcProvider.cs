using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Flywheel.Platform.Tests;

/// <summary>A person the test provider signs in: what Entra ID would put in their ID token.</summary>
public sealed record OidcTestUser(string Subject, string UserName, string DisplayName, IReadOnlyList<string> Roles);

/// <summary>One authorization code the console redeemed: what it sent, so tests can check PKCE and the callback address.</summary>
public sealed record OidcTokenExchange(string UserName, string RedirectUri, string CodeChallengeMethod, string ClientAuthentication);

/// <summary>
/// A small OpenID Connect provider in the test process (Kestrel on a free loopback port), standing
/// in for Microsoft Entra ID: discovery, JWKS (an RSA key made at start), <c>/authorize</c> for the
/// authorization code flow, which signs in <see cref="User"/> without asking, <c>/token</c>, which
/// answers with an RS256 ID token carrying <c>preferred_username</c>, <c>name</c> and the app roles
/// in <c>roles</c>, and <c>/userinfo</c>. It is strict where a real provider is: a client that does
/// not send PKCE (S256), or sends the wrong verifier, secret, client id or redirect URI, gets a 400,
/// so a sign-in that succeeds proves the console used each of them.
/// </summary>
public sealed class TestOidcProvider : IAsyncDisposable
{
    public const string ClientId = "flywheel-console";
    public const string CallbackPath = "/signin-oidc";
    public static readonly TimeSpan CodeLifetime = TimeSpan.FromMinutes(2);

    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create(2048);
    private readonly string _keyId = Guid.NewGuid().ToString("N")[..16];
    private readonly ConcurrentDictionary<string, PendingCode> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OidcTestUser> _accessTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<string> _redirectUris = [];
    private readonly ConcurrentQueue<OidcTokenExchange> _exchanges = new();
    private readonly ConcurrentQueue<string> _refusals = new();

    private TestOidcProvider(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The issuer and the console's <c>Flywheel:Console:Oidc:Authority</c>: <c>http://127.0.0.1:port</c>.</summary>
    public string Authority { get; private set; } = "";

    /// <summary>The only client's secret, made at start.</summary>
    public string ClientSecret { get; } = Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>Who the next <c>/authorize</c> signs in; null answers <c>access_denied</c>, as a person cancelling would.</summary>
    public OidcTestUser? User { get; set; }

    /// <summary>The codes redeemed so far, oldest first.</summary>
    public IReadOnlyList<OidcTokenExchange> Exchanges => [.. _exchanges];

    /// <summary>Why requests were refused with a 400, oldest first: what a failing test prints.</summary>
    public IReadOnlyList<string> Refusals => [.. _refusals];

    /// <summary>Registers a redirect URI for the client, as an app registration lists them; nothing else is accepted.</summary>
    public void AllowRedirectUri(Uri redirectUri) => _redirectUris.Add(redirectUri.AbsoluteUri);

    public static async Task<TestOidcProvider> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(TestOidcProvider).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var provider = new TestOidcProvider(app);
        app.MapGet("/.well-known/openid-configuration", provider.Discovery);
        app.MapGet("/jwks", provider.Jwks);
        app.MapGet("/authorize", provider.Authorize);
        app.MapPost("/token", provider.TokenAsync);
        app.MapGet("/userinfo", provider.UserInfo);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        provider.Authority = new Uri(address).GetLeftPart(UriPartial.Authority);
        return provider;
    }

    private IResult Discovery() => Results.Json(new Dictionary<string, object>
    {
        ["issuer"] = Authority,
        ["authorization_endpoint"] = Authority + "/authorize",
        ["token_endpoint"] = Authority + "/token",
        ["userinfo_endpoint"] = Authority + "/userinfo",
        ["jwks_uri"] = Authority + "/jwks",
        ["response_types_supported"] = new[] { "code" },
        ["response_modes_supported"] = new[] { "query", "form_post" },
        ["grant_types_supported"] = new[] { "authorization_code" },
        ["subject_types_supported"] = new[] { "public" },
        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        ["scopes_supported"] = new[] { "openid", "profile", "email" },
        ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_post", "client_secret_basic" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
        ["claims_supported"] = new[] { "sub", "iss", "aud", "exp", "iat", "nonce", "name", "preferred_username", "roles" },
    });

    private IResult Jwks()
    {
        var key = _key.ExportParameters(includePrivateParameters: false);
        return Results.Json(new
        {
            keys = new[]
            {
                new Dictionary<string, string>
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = _keyId,
                    ["n"] = Base64Url(key.Modulus!), ["e"] = Base64Url(key.Exponent!),
                },
            },
        });
    }

    private IResult Authorize(HttpRequest request)
    {
        var query = request.Query;
        string? Single(string name) => query[name].Count == 1 ? query[name][0] : null;

        // Until client and redirect URI are known good, nothing may be sent back to the redirect URI.
        if (Single("client_id") != ClientId)
        {
            return Refuse($"authorize: unknown client_id '{Single("client_id")}'");
        }

        if (Single("redirect_uri") is not { } redirectUri || !_redirectUris.Contains(redirectUri))
        {
            return Refuse($"authorize: redirect_uri '{Single("redirect_uri")}' is not registered (registered: {string.Join(", ", _redirectUris)})");
        }

        if (Single("response_type") != "code")
        {
            return Refuse($"authorize: response_type '{Single("response_type")}' is not 'code'");
        }

        if (Single("scope")?.Split(' ').Contains("openid") != true)
        {
            return Refuse($"authorize: scope '{Single("scope")}' lacks openid");
        }

        if (Single("code_challenge") is not { Length: 43 } challenge || Single("code_challenge_method") != "S256")
        {
            return Refuse($"authorize: PKCE missing or not S256 (code_challenge '{Single("code_challenge")}', method '{Single("code_challenge_method")}')");
        }

        if (Single("nonce") is not { Length: > 0 } nonce)
        {
            return Refuse("authorize: no nonce");
        }

        var responseMode = Single("response_mode") ?? "query";
        if (responseMode is not ("query" or "form_post"))
        {
            return Refuse($"authorize: response_mode '{responseMode}' is not supported");
        }

        var state = Single("state");
        var answer = new Dictionary<string, string>(StringComparer.Ordinal);
        if (User is not { } user)
        {
            answer["error"] = "access_denied";
            answer["error_description"] = "The person did not consent.";
        }
        else
        {
            var code = Base64Url(RandomNumberGenerator.GetBytes(32));
            _codes[code] = new PendingCode(redirectUri, challenge, nonce, user, DateTimeOffset.UtcNow + CodeLifetime);
            answer["code"] = code;
        }

        if (state is not null)
        {
            answer["state"] = state;
        }

        return responseMode == "form_post" ? FormPost(redirectUri, answer) : Results.Redirect(WithQuery(redirectUri, answer));
    }

    private async Task<IResult> TokenAsync(HttpRequest request)
    {
        if (!request.HasFormContentType)
        {
            return Refuse("token: not a form post", "invalid_request");
        }

        var form = await request.ReadFormAsync();
        string? Single(string name) => form[name].Count == 1 ? form[name][0] : null;

        var (clientId, secret, method) = ClientCredentials(request, Single("client_id"), Single("client_secret"));
        if (clientId != ClientId || secret is null ||
            !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(ClientSecret)))
        {
            return Refuse($"token: client '{clientId}' did not authenticate ({method})", "invalid_client");
        }

        if (Single("grant_type") != "authorization_code")
        {
            return Refuse($"token: grant_type '{Single("grant_type")}'", "unsupported_grant_type");
        }

        // One use only: a code is gone once presented, right or wrong.
        if (Single("code") is not { } code || !_codes.TryRemove(code, out var pending) || pending.Expires < DateTimeOffset.UtcNow)
        {
            return Refuse("token: unknown, used or expired code", "invalid_grant");
        }

        if (Single("redirect_uri") != pending.RedirectUri)
        {
            return Refuse($"token: redirect_uri '{Single("redirect_uri")}' differs from the authorization's '{pending.RedirectUri}'", "invalid_grant");
        }

        if (Single("code_verifier") is not { Length: >= 43 and <= 128 } verifier ||
            Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))) != pending.CodeChallenge)
        {
            return Refuse("token: code_verifier does not match the code_challenge", "invalid_grant");
        }

        var accessToken = Base64Url(RandomNumberGenerator.GetBytes(32));
        _accessTokens[accessToken] = pending.User;
        _exchanges.Enqueue(new OidcTokenExchange(pending.User.UserName, pending.RedirectUri, "S256", method));
        return Results.Json(new Dictionary<string, object>
        {
            ["access_token"] = accessToken,
            ["token_type"] = "Bearer",
            ["expires_in"] = 3600,
            ["scope"] = "openid profile email",
            ["id_token"] = IdToken(pending.User, pending.Nonce),
        });
    }

    private IResult UserInfo(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || !_accessTokens.TryGetValue(authorization["Bearer ".Length..], out var user))
        {
            return Results.Unauthorized();
        }

        return Results.Json(new { sub = user.Subject, preferred_username = user.UserName, name = user.DisplayName });
    }

    /// <summary>An ID token as Entra ID shapes one, signed RS256 with the key JWKS publishes.</summary>
    private string IdToken(OidcTestUser user, string nonce)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = _keyId });
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iss"] = Authority,
            ["aud"] = ClientId,
            ["sub"] = user.Subject,
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + 3600,
            ["nonce"] = nonce,
            ["preferred_username"] = user.UserName,
            ["name"] = user.DisplayName,
            ["roles"] = user.Roles,
        });
        var signed = Base64Url(header) + "." + Base64Url(payload);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signed), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signed + "." + Base64Url(signature);
    }

    /// <summary>client_secret_basic (an Authorization header) or client_secret_post (form fields), not both.</summary>
    private static (string? ClientId, string? Secret, string Method) ClientCredentials(HttpRequest request, string? formId, string? formSecret)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return (formId, formSecret, "client_secret_post");
        }

        if (formSecret is not null)
        {
            return (null, null, "both");
        }

        try
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..])).Split(':', 2);
            return pair.Length == 2 ? (Uri.UnescapeDataString(pair[0]), Uri.UnescapeDataString(pair[1]), "client_secret_basic") : (null, null, "basic");
        }
        catch (FormatException)
        {
            return (null, null, "basic");
        }
    }

    /// <summary>response_mode=form_post: a page that posts the answer to the redirect URI at once (what Entra ID does).</summary>
    private static IResult FormPost(string redirectUri, Dictionary<string, string> answer)
    {
        var html = new StringBuilder("<!doctype html><html><head><title>Signing in</title></head><body onload=\"document.forms[0].submit()\">");
        html.Append("<form method=\"post\" action=\"").Append(WebUtility.HtmlEncode(redirectUri)).Append("\">");
        foreach (var (name, value) in answer)
        {
            html.Append("<input type=\"hidden\" name=\"").Append(WebUtility.HtmlEncode(name))
                .Append("\" value=\"").Append(WebUtility.HtmlEncode(value)).Append("\" />");
        }

        html.Append("<noscript><input type=\"submit\" value=\"Continue\" /></noscript></form></body></html>");
        return Results.Content(html.ToString(), "text/html; charset=utf-8");
    }

    private static string WithQuery(string uri, Dictionary<string, string> answer) =>
        uri + (uri.Contains('?', StringComparison.Ordinal) ? "&" : "?") +
        string.Join('&', answer.Select(pair => $"{Uri.EscapeDataString(pair.Key)}={Uri.EscapeDataString(pair.Value)}"));

    private IResult Refuse(string reason, string error = "invalid_request")
    {
        _refusals.Enqueue(reason);
        return Results.Json(new { error, error_description = reason }, statusCode: StatusCodes.Status400BadRequest);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
    }

    private sealed record PendingCode(string RedirectUri, string CodeChallenge, string Nonce, OidcTestUser User, DateTimeOffset Expires);
}
