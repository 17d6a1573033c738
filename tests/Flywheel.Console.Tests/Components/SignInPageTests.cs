using System.Net;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Security;
using Flywheel.Console.Tests.Fakes;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Flywheel.Console.Tests.Components;

public sealed class SignInPageTests : ConsoleTest
{
    [Fact]
    public void A_key_the_registry_knows_signs_in_and_goes_back_without_the_key_reaching_the_page()
    {
        Registry.Json("/api/keys/me", """{ "id": "0190a6b2-9999-7000-8000-000000000009", "name": "alice", "roles": ["operator"] }""");
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("/sign-in?return=%2Fmodels%2Fcard-fraud%3Fsection%3Drollouts");
        var page = Render<SignInPage>();

        page.Find("#api-key").Input(OperatorKey);
        page.Find("form").Submit();

        page.WaitForAssertion(() => Assert.EndsWith("/models/card-fraud?section=rollouts", navigation.Uri, StringComparison.Ordinal));
        var session = Services.GetRequiredService<OperatorSession>();
        Assert.True(session.CanOperate);
        Assert.Equal("alice", session.Identity!.Name);
        Assert.DoesNotContain(OperatorKey, page.Markup, StringComparison.Ordinal);
        Assert.Equal(OperatorKey, Assert.Single(Registry.Sent).ApiKey);
    }

    [Fact]
    public void An_unknown_key_is_refused_in_words_and_nobody_is_signed_in()
    {
        Registry.Problem("/api/keys/me", HttpStatusCode.Unauthorized, "Unauthorized", "The API key is unknown or revoked.");
        var page = Render<SignInPage>();

        page.Find("#api-key").Input("fw_wrong");
        page.Find("form").Submit();

        page.WaitForAssertion(() => Assert.Contains("did not accept the key", Text(page.Find("#sign-in-problem")), StringComparison.Ordinal));
        Assert.False(Services.GetRequiredService<OperatorSession>().SignedIn);
        Assert.DoesNotContain("fw_wrong", page.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public void Before_the_page_is_interactive_the_form_cannot_be_sent()
    {
        // Prerendered: a submit now would post the key to the server as a plain form, so the button waits for the circuit.
        Renderer.SetRendererInfo(new RendererInfo("Static", isInteractive: false));

        var page = Render<SignInPage>();

        Assert.True(page.Find("form button[type=submit]").HasAttribute("disabled"));
    }

    [Fact]
    public async Task Signing_out_forgets_the_identity_and_a_return_address_elsewhere_goes_home()
    {
        var session = await SignInAsync("bob", "admin");
        Assert.True(session.CanOperate);

        session.SignOut();

        Assert.False(session.SignedIn);
        Assert.Equal("/", Flywheel.Console.Display.Links.LocalOrHome("//evil.example/"));
        Assert.Equal("/", Flywheel.Console.Display.Links.LocalOrHome("https://evil.example/"));
        Assert.Equal("/audit", Flywheel.Console.Display.Links.LocalOrHome("/audit"));
        Assert.Equal("/", Flywheel.Console.Display.Links.LocalOrHome("/\t/evil.example"));
        Assert.Equal("/", Flywheel.Console.Display.Links.LocalOrHome("/audit\r\nSet-Cookie: x"));
    }

    [Fact]
    public void A_person_signed_in_with_the_cookie_is_acted_for_with_the_console_key_and_their_name_and_roles()
    {
        Authorization.SetAuthorized("alice@contoso.com");
        Authorization.SetRoles("operator", "console", "predictor");
        Authorization.SetClaims(new System.Security.Claims.Claim(ConsolePrincipal.MethodClaim, ConsolePrincipal.Local));
        Registry.Json("/api/audit?limit=50", """{ "entries": [], "next_before": null }""");

        var page = Render<AuditPage>();

        page.WaitForAssertion(() => Assert.Single(Registry.Sent));
        var sent = Registry.Sent.Single();
        Assert.Equal((ServiceKey, "alice@contoso.com", "operator"), (sent.ApiKey, sent.User, sent.UserRoles));
        var session = Services.GetRequiredService<OperatorSession>();
        Assert.Equal(SignInMethod.Local, session.Identity!.Method);
        Assert.True(session.CanOperate);
    }

    [Fact]
    public void Without_the_console_key_a_cookie_principal_is_not_signed_in()
    {
        SignIn.ServiceKey = null;
        Authorization.SetAuthorized("alice@contoso.com");
        Authorization.SetRoles("admin");

        Assert.False(Services.GetRequiredService<OperatorSession>().SignedIn);
    }

    [Fact]
    public void With_local_accounts_the_page_offers_a_password_form_that_posts_with_an_antiforgery_token_and_says_when_it_failed()
    {
        SignIn.Accounts = [new LocalAccount { Name = "admin", Roles = ["admin"], Password = "p" }];
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("/sign-in?failed=password&return=%2Faudit");

        var page = Render<SignInPage>();

        var form = page.Find("#password-form");
        Assert.Equal("post", form.GetAttribute("method"));
        Assert.Equal(SignInApi.SignInPath, form.GetAttribute("action"));
        Assert.Equal("/audit", form.QuerySelector("input[name=return]")!.GetAttribute("value"));
        Assert.Equal(FakeAntiforgery.Token, form.QuerySelector("input[name=__RequestVerificationToken]")?.GetAttribute("value"));
        Assert.Equal("The name or password is not right.", Text(page.Find("#sign-in-failed")));
        Assert.Empty(page.FindAll("#oidc-sign-in"));
        // The key form is still there, and its button is the page's only submit button.
        Assert.Single(page.FindAll("form button[type=submit]"));
    }

    [Fact]
    public void The_identity_provider_button_shows_only_when_OpenID_Connect_is_configured()
    {
        SignIn.Oidc = new OidcOptions { Authority = "https://login.microsoftonline.com/tenant/v2.0", ClientId = "console" };

        var page = Render<SignInPage>();

        Assert.Equal("Sign in with Microsoft Entra ID", page.Find("#oidc-sign-in").GetAttribute("value"));
        Assert.Empty(page.FindAll("#password-form"));
    }

    [Fact]
    public void A_person_signed_in_with_the_cookie_signs_out_with_a_form_post()
    {
        Authorization.SetAuthorized("alice@contoso.com");
        Authorization.SetRoles("viewer");

        var page = Render<SignInPage>();

        Assert.Contains("Signed in as alice@contoso.com (viewer)", Text(page.Find("[role=status]")), StringComparison.Ordinal);
        Assert.Equal(SignInApi.SignOutPath, page.Find("form[method=post]").GetAttribute("action"));
    }
}
