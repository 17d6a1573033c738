using Microsoft.AspNetCore.Components.Forms;

namespace Flywheel.Console.Tests.Fakes;

/// <summary>A fixed antiforgery token, so a test sees that a form carries one (the real one is checked by the browser tests).</summary>
public sealed class FakeAntiforgery : AntiforgeryStateProvider
{
    public const string Token = "test-antiforgery-token";

    public override AntiforgeryRequestToken GetAntiforgeryToken() => new(Token, "__RequestVerificationToken");
}
