using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Flywheel.Contracts;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Console sign-in through OpenID Connect, in a real browser, against <see cref="TestOidcProvider"/>
/// standing in for Microsoft Entra ID: the code flow with PKCE and the client secret through the
/// gateway's callback; the app role <c>Flywheel.Operator</c> lets the person reject a rollout and
/// the audit log names them; <c>Flywheel.Viewer</c> reads and changes nothing; roles the console
/// does not know grant nothing; a provider that refuses leaves nobody signed in.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class OidcSignInTests(PlatformFixture fixture) : IAsyncLifetime
{
    private static readonly OidcTestUser Alice = new("00000000-0000-0000-0000-00000000a11c", "alice@contoso.com", "Alice Smith", ["Flywheel.Operator"]);
    private static readonly OidcTestUser Bob = new("00000000-0000-0000-0000-000000000b0b", "bob@contoso.com", "Bob Jones", ["Flywheel.Viewer", "Payroll.Admin"]);
    private static readonly OidcTestUser Carol = new("00000000-0000-0000-0000-0000000ca201", "carol@contoso.com", "Carol White", ["Payroll.Admin", "admin"]);

    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private ConsoleBrowser _browser = null!;

    private TestOidcProvider Provider => _flywheel.Oidc;

    private string Gateway => _flywheel.CreateClient(ResourceNames.Gateway).BaseAddress!.GetLeftPart(UriPartial.Authority);

    public async Task InitializeAsync() => _browser = await ConsoleBrowser.LaunchAsync(_flywheel);

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task An_operator_signs_in_with_the_provider_rejects_a_rollout_and_the_audit_log_names_them()
    {
        var admin = _flywheel.AdminGateway();
        var (model, rolloutId) = await TrainingData.ModelWithRolloutAsync(admin, "oidc-operator", dataSeed: 61);

        var page = await _browser.NewPageAsync(height: 900);
        var back = $"/models/{model}?section=rollouts";
        var exchanges = Provider.Exchanges.Count;
        var refusals = Provider.Refusals.Count;
        await SignInWithProviderAsync(page, Alice, back, back);
        await Expect(page.Locator("header #signed-in-as")).ToHaveTextAsync("Signed in as alice@contoso.com (operator)");
        Assert.True(Provider.Refusals.Count == refusals, string.Join("; ", Provider.Refusals.Skip(refusals)));
        var exchange = Assert.Single(Provider.Exchanges.Skip(exchanges));
        Assert.Equal(new OidcTokenExchange("alice@contoso.com", Gateway + "/signin-oidc", "S256", "client_secret_post"), exchange);
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "flywheel.console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Lax, cookie.SameSite);

        var rollout = page.Locator("article.rollout").First;
        await rollout.GetByRole(AriaRole.Button, new() { Name = "Reject", Exact = true }).ClickAsync();
        await rollout.GetByRole(AriaRole.Button, new() { Name = "Confirm reject" }).ClickAsync();
        await Expect(rollout.Locator("h3 .badge")).ToHaveAttributeAsync("data-state", "rolled_back", new() { Timeout = 60_000 });

        // The registry recorded the person the provider named, for this rollout.
        var audit = await admin.GetFromJsonAsync<JsonElement>($"/api/audit?model={model}&action=rollout.rejected");
        var entry = Assert.Single(audit.GetProperty("entries").EnumerateArray());
        Assert.Equal("alice@contoso.com", entry.GetProperty("actor").GetString());
        Assert.Contains(rolloutId.ToString(), entry.ToString(), StringComparison.Ordinal);

        // And the console's audit page, read as her, says so too.
        await ConsoleBrowser.GoToAsync(page, "/audit");
        await page.Locator("#audit-model").FillAsync(model);
        await page.Locator("#audit-action").FillAsync("rollout.rejected");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        var rejections = page.Locator("table.audit tbody tr");
        await Expect(rejections).ToHaveCountAsync(1);
        await Expect(rejections.First.Locator("td").Nth(1)).ToHaveTextAsync("alice@contoso.com");
    }

    [Fact]
    public async Task A_viewer_from_the_provider_reads_but_cannot_change_and_unknown_roles_grant_nothing()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("oidc-viewer", TrainingData.FraudModel);
        var back = $"/models/{model}?section=rollouts";

        // Flywheel.Viewer maps to viewer; the other app role the token carries is not Flywheel's and is dropped.
        var viewer = await _browser.NewPageAsync();
        await SignInWithProviderAsync(viewer, Bob, back, back);
        await Expect(viewer.Locator("header #signed-in-as")).ToHaveTextAsync("Signed in as bob@contoso.com (viewer)");
        await Expect(viewer.Locator("#sign-in-to-decide")).ToHaveTextAsync("Signed in as a viewer: you can look, not change.");
        await ConsoleBrowser.GoToAsync(viewer, "/audit");
        await viewer.Locator("#audit-model").FillAsync(model);
        await viewer.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        var entries = viewer.Locator("table.audit tbody tr");
        await Expect(entries).ToHaveCountAsync(1);
        await Expect(entries.First).ToContainTextAsync("model.created");

        // What the console would send for him, the platform refuses: a viewer changes nothing.
        using (var console = _flywheel.CreateClient(ResourceNames.Gateway))
        using (var change = new HttpRequestMessage(HttpMethod.Put, $"/api/models/{model}/policy"))
        {
            console.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _flywheel.ConsoleKey);
            change.Headers.Add("X-Flywheel-User", "bob@contoso.com");
            change.Headers.Add("X-Flywheel-User-Roles", "viewer");
            change.Content = JsonContent.Create(new { require_approval = true });
            using var refused = await console.SendAsync(change);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        // Neither an unknown app role nor a bare "admin" value maps to anything: signed in, with no roles,
        // so nothing to read or change (the console documents "anything else grants nothing").
        var nobody = await _browser.NewPageAsync();
        await SignInWithProviderAsync(nobody, Carol, back, back);
        await Expect(nobody.Locator("header #signed-in-as")).ToHaveTextAsync("Signed in as carol@contoso.com (no roles)");
        await Expect(nobody.Locator("#sign-in-to-decide")).ToContainTextAsync("Your key cannot approve or reject rollouts");
        await ConsoleBrowser.GoToAsync(nobody, "/audit");
        await Expect(nobody.Locator("#cannot-read")).ToBeVisibleAsync();
        await Expect(nobody.Locator("table.audit")).ToHaveCountAsync(0);

        var policies = await admin.GetFromJsonAsync<JsonElement>($"/api/audit?model={model}&action=model.policy_changed");
        Assert.Empty(policies.GetProperty("entries").EnumerateArray());
    }

    [Fact]
    public async Task A_provider_that_refuses_leaves_nobody_signed_in()
    {
        var page = await _browser.NewPageAsync();
        await SignInWithProviderAsync(page, null, "/", "/sign-in?failed=provider");
        await Expect(page.Locator("#sign-in-failed")).ToHaveTextAsync("The identity provider did not sign you in, or gave no name and roles the platform can use.");
        await Expect(page.Locator("header #signed-in-as")).ToHaveCountAsync(0);
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "flywheel.console");
    }

    [Fact]
    public async Task The_test_provider_refuses_a_wrong_verifier_secret_or_redirect_uri()
    {
        // The console's sign-in above proves PKCE and the secret only if the provider checks them.
        var callback = Gateway + "/signin-oidc";
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(Provider.Authority) };
        Provider.User = Alice;

        var (verifier, challenge) = Pkce();
        using (var unregistered = await http.GetAsync(AuthorizeUrl("http://localhost:1/signin-oidc", challenge)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unregistered.StatusCode);
        }

        using (var noPkce = await http.GetAsync(AuthorizeUrl(callback, challenge).Replace("&code_challenge_method=S256", "", StringComparison.Ordinal)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noPkce.StatusCode);
        }

        // A client that does not authenticate cannot touch a code; a wrong verifier or redirect URI spends it.
        var cases = new (string Name, string Verifier, string Secret, string RedirectUri, bool Spends)[]
        {
            ("wrong secret", verifier, "not-the-secret", callback, false),
            ("wrong verifier", Pkce().Verifier, Provider.ClientSecret, callback, true),
            ("other redirect uri", verifier, Provider.ClientSecret, Gateway + "/elsewhere", true),
        };
        foreach (var (name, wrongVerifier, secret, redirectUri, spends) in cases)
        {
            var code = await CodeAsync(http, callback, challenge);
            using var refused = await RedeemAsync(http, code, wrongVerifier, secret, redirectUri);
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{name}: {refused.StatusCode}");
            using var then = await RedeemAsync(http, code, verifier, Provider.ClientSecret, callback);
            Assert.True(then.StatusCode == (spends ? HttpStatusCode.BadRequest : HttpStatusCode.OK), $"{name}, then right: {then.StatusCode}");
            if (spends is false)
            {
                // Redeemed now: a second time is refused.
                using var again = await RedeemAsync(http, code, verifier, Provider.ClientSecret, callback);
                Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
            }
        }

        using var redeemed = await RedeemAsync(http, await CodeAsync(http, callback, challenge), verifier, Provider.ClientSecret, callback);
        Assert.Equal(HttpStatusCode.OK, redeemed.StatusCode);
        var idToken = (await redeemed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id_token").GetString()!;
        var claims = JsonDocument.Parse(Convert.FromBase64String(Padded(idToken.Split('.')[1]))).RootElement;
        Assert.Equal(Provider.Authority, claims.GetProperty("iss").GetString());
        Assert.Equal(TestOidcProvider.ClientId, claims.GetProperty("aud").GetString());
        Assert.Equal("alice@contoso.com", claims.GetProperty("preferred_username").GetString());
        Assert.Equal(["Flywheel.Operator"], claims.GetProperty("roles").EnumerateArray().Select(role => role.GetString()!));
    }

    /// <summary>
    /// From the sign-in page, through the provider (signing in <paramref name="user"/>), back to the
    /// console at <paramref name="landing"/> (a path on the gateway), with the page's circuit connected.
    /// </summary>
    private async Task SignInWithProviderAsync(IPage page, OidcTestUser? user, string back, string landing)
    {
        Provider.User = user;
        await ConsoleBrowser.GoToAsync(page, $"/sign-in?return={Uri.EscapeDataString(back)}");
        var button = page.Locator("#oidc-sign-in");
        await Expect(button).ToHaveValueAsync("Sign in with Microsoft Entra ID");
        await button.ClickAsync();
        // The gateway's address, not the console's own: the callback and the way back go through it.
        await Expect(page).ToHaveURLAsync(new Regex("^" + Regex.Escape(Gateway + landing) + "$"), new() { Timeout = 30_000 });
        await Expect(page.Locator("header[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = 30_000 });
    }

    private static string AuthorizeUrl(string redirectUri, string challenge) =>
        $"/authorize?client_id={TestOidcProvider.ClientId}&redirect_uri={Uri.EscapeDataString(redirectUri)}&response_type=code" +
        $"&scope=openid%20profile&nonce=n-{Guid.NewGuid():N}&state=s&code_challenge={challenge}&code_challenge_method=S256";

    private static async Task<string> CodeAsync(HttpClient http, string redirectUri, string challenge)
    {
        using var authorized = await http.GetAsync(AuthorizeUrl(redirectUri, challenge));
        Assert.Equal(HttpStatusCode.Redirect, authorized.StatusCode);
        var location = authorized.Headers.Location!.ToString();
        Assert.StartsWith(redirectUri + "?", location, StringComparison.Ordinal);
        return Uri.UnescapeDataString(Regex.Match(location, "[?&]code=([^&]+)").Groups[1].Value);
    }

    private static Task<HttpResponseMessage> RedeemAsync(HttpClient http, string code, string verifier, string secret, string redirectUri) =>
        http.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirectUri,
            ["code_verifier"] = verifier,
            ["client_id"] = TestOidcProvider.ClientId,
            ["client_secret"] = secret,
        }));

    private static (string Verifier, string Challenge) Pkce()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Padded(string base64Url) =>
        base64Url.Replace('-', '+').Replace('_', '/') + new string('=', (4 - base64Url.Length % 4) % 4);

}
