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
    }
}
