using System.Net;
using System.Text.Json.Nodes;
using Bunit;
using Flywheel.Console.Components.Serving;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class DeploymentControlsTests : ConsoleTest
{
    private const string Deployment = "/api/models/card-fraud/deployment";
    private const string History = "/api/models/card-fraud/deployment/history";
    private const string Versions = "/api/models/card-fraud/versions";
    private const string Rollback = "/api/models/card-fraud/rollback";

    /// <summary>v1 in production, v2 before it; with a canary on v3 at 50% when asked.</summary>
    private static string Current(long revision = 4, string canary = "null", string shadow = "null", string sticky = "null", string by = "orchestrator") => $$"""
        { "model": "card-fraud", "revision": {{revision}}, "production": 1, "canary": {{canary}}, "shadow": {{shadow}}, "sticky_by": {{sticky}},
          "updated_at": "2026-01-04T10:00:00+00:00", "updated_by": "{{by}}", "reason": null }
        """;

    private const string CanaryOnV3 = """{ "version": 3, "percent": 50, "auto_promote": true }""";

    private static string HistoryOf(params string[] entries) => $$"""{ "model": "card-fraud", "history": [ {{string.Join(",", entries)}} ] }""";

    private static string Entry(long revision, int production, string actor = "alice", string action = "deploy", string reason = "null") => $$"""
        { "revision": {{revision}}, "at": "2026-01-0{{revision}}T10:00:00+00:00", "actor": "{{actor}}", "action": "{{action}}", "reason": {{reason}},
          "deployment": { "production": {{production}} }, "previous": null }
        """;

    private static readonly string PastHistory = HistoryOf(Entry(4, 1), Entry(3, 1), Entry(2, 2), Entry(1, 2));

    private IRenderedComponent<DeploymentSection> RenderSection(string deployment, string? history = null)
    {
        Registry.Json(Deployment, deployment);
        Registry.Json(History, history ?? PastHistory);
        Registry.Json(Versions, Canned.Versions(Canned.Version(1, "{}"), Canned.Version(2, "{}"), Canned.Version(3, "{}")));
        return Render<DeploymentSection>(p => p.Add(x => x.ModelName, "card-fraud"));
    }

    private static List<string> Buttons(IRenderedComponent<DeploymentSection> section) =>
        [.. section.FindAll(".deployment-controls button").Select(Text)];

    private static void Click(IRenderedComponent<DeploymentSection> section, string button) =>
        section.FindAll(".deployment-controls button").Single(b => Text(b) == button).Click();

    private static void AssertJson(string expected, string? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual!)), $"sent {actual}");

    [Fact]
    public void Without_sign_in_there_are_no_controls_and_a_link_to_sign_in()
    {
        var section = RenderSection(Current(canary: CanaryOnV3));

        section.WaitForElement(".deployment-controls");
        Assert.Empty(Buttons(section));
        Assert.Empty(section.FindAll(".deployment-controls form"));
        Assert.Equal("Sign in with an operator key to change traffic. Sign in", Text(section.Find("#sign-in-to-change")));
        Assert.Equal("/sign-in?return=%2Fmodels%2Fcard-fraud%3Fsection%3Ddeployment", section.Find("#sign-in-to-change a").GetAttribute("href"));
        // Only a key that may change traffic needs the versions to choose from.
        Assert.Equal(0, Registry.Count(Versions));
    }

    [Fact]
    public async Task A_viewer_can_look_not_change()
    {
        await SignInAsync("auditor", "viewer");

        var section = RenderSection(Current(canary: CanaryOnV3));

        section.WaitForElement(".deployment-controls");
        Assert.Equal("Signed in as a viewer: you can look, not change.", Text(section.Find("#sign-in-to-change")));
        Assert.Empty(Buttons(section));
    }

    [Fact]
    public async Task A_predictor_key_is_told_it_needs_an_operator_key()
    {
        await SignInAsync("scorer", "predictor");

        var section = RenderSection(Current());

        section.WaitForElement(".deployment-controls");
        Assert.Equal("Your key cannot change traffic; that needs an operator or admin key.", Text(section.Find("#sign-in-to-change")));
        Assert.Empty(Buttons(section));
    }

    [Fact]
    public async Task An_operator_gets_the_controls_the_traffic_allows()
    {
        await SignInAsync();

        var plain = RenderSection(Current());
        plain.WaitForAssertion(() => Assert.Equal(["Start canary", "Start shadow", "Roll back to v2"], Buttons(plain)));
        // Production is not offered as a canary or shadow; newest first.
        Assert.Equal(["Choose a version", "v3", "v2"], plain.FindAll("#canary-version option").Select(Text));
        Assert.Equal(["Choose a version", "v3", "v2"], plain.FindAll("#shadow-version option").Select(Text));
        Assert.Equal("Canary", Text(plain.Find(".deployment-controls form[aria-label=Canary] legend")));
        Assert.Equal("Share of traffic (%)", Text(plain.Find("label[for=canary-percent]")));
    }

    [Fact]
    public async Task With_a_canary_and_a_shadow_the_forms_start_from_them_and_offer_promote_remove_and_stop()
    {
        await SignInAsync();

        var section = RenderSection(Current(canary: CanaryOnV3, shadow: """{ "version": 2, "percent": 100 }""", sticky: "\"entity_id\""));

        section.WaitForAssertion(() => Assert.Equal(
            ["Change canary", "Promote v3 to production", "Remove canary", "Change shadow", "Stop shadow", "Roll back to v2"], Buttons(section)));
        Assert.Equal("3", section.Find("#canary-version").GetAttribute("value"));
        Assert.Equal("50", section.Find("#canary-percent").GetAttribute("value"));
        Assert.Equal("entity_id", section.Find("#canary-sticky").GetAttribute("value"));
        Assert.Equal("2", section.Find("#shadow-version").GetAttribute("value"));
        Assert.Equal("100", section.Find("#shadow-percent").GetAttribute("value"));
    }

    [Theory]
    [InlineData("", "0", "canary-version-error", "Choose the version for the canary.")]
    [InlineData("3", "0", "canary-percent-error", "Enter a whole percent from 1 to 99.")]
    [InlineData("3", "100", "canary-percent-error", "Enter a whole percent from 1 to 99.")]
    [InlineData("3", "12.5", "canary-percent-error", "Enter a whole percent from 1 to 99.")]
    [InlineData("3", "", "canary-percent-error", "Enter a whole percent from 1 to 99.")]
    public async Task A_canary_out_of_range_is_explained_in_the_form_and_nothing_is_sent(string version, string percent, string errorId, string message)
    {
        await SignInAsync();
        var section = RenderSection(Current());
        section.WaitForElement("#canary-version");

        section.Find("#canary-version").Change(version);
        section.Find("#canary-percent").Input(percent);
        section.Find(".deployment-controls form[aria-label=Canary]").Submit();

        Assert.Equal(message, Text(section.Find($"#{errorId}")));
        Assert.Equal("true", section.Find($"[aria-describedby={errorId}]").GetAttribute("aria-invalid"));
        Assert.Empty(section.FindAll("#confirm-change"));
        Assert.DoesNotContain(Registry.Sent, r => r.Method != "GET");
    }

    [Fact]
    public async Task A_sticky_key_that_is_not_entity_id_or_a_header_is_explained()
    {
        await SignInAsync();
        var section = RenderSection(Current());
        section.WaitForElement("#canary-version");

        section.Find("#canary-version").Change("3");
        section.Find("#canary-percent").Input("30");
        section.Find("#canary-sticky").Input("card_id");
        section.Find(".deployment-controls form[aria-label=Canary]").Submit();

        Assert.Equal("Enter entity_id, or header: and a header name (header:X-User-Id), or leave it empty.", Text(section.Find("#canary-sticky-error")));
        Assert.DoesNotContain(Registry.Sent, r => r.Method != "GET");
    }

    [Fact]
    public async Task Starting_a_canary_asks_in_words_then_sends_the_whole_traffic_with_the_operator_s_key_and_shows_the_new_revision()
    {
        await SignInAsync();
        Registry.Json(Deployment, Current(), Current(revision: 5, canary: """{ "version": 3, "percent": 30, "auto_promote": false }""", sticky: "\"entity_id\"", by: "alice"));
        Registry.Json(History, PastHistory, HistoryOf(Entry(5, 1, reason: "\"try v3\""), Entry(4, 1), Entry(3, 1), Entry(2, 2), Entry(1, 2)));
        Registry.Json(Versions, Canned.Versions(Canned.Version(1, "{}"), Canned.Version(2, "{}"), Canned.Version(3, "{}")));
        Registry.Answer("PUT", Deployment, HttpStatusCode.OK, Current(revision: 5, canary: """{ "version": 3, "percent": 30, "auto_promote": false }""", by: "alice"));
        var section = Render<DeploymentSection>(p => p.Add(x => x.ModelName, "card-fraud"));
        section.WaitForElement("#canary-version");

        section.Find("#canary-version").Change("3");
        section.Find("#canary-percent").Input("30");
        section.Find("#canary-sticky").Input("entity_id");
        section.Find(".deployment-controls form[aria-label=Canary]").Submit();

        Assert.Equal("Send 30% of card-fraud's traffic to v3? v1 keeps the other 70%. Requests stick to an arm by entity_id.", Text(section.Find("#confirm-change")));
        Assert.Equal(["Confirm: start canary", "Cancel"], Buttons(section));
        Assert.DoesNotContain(Registry.Sent, r => r.Method == "PUT");

        section.Find("#change-reason").Input("try v3");
        Click(section, "Confirm: start canary");

        section.WaitForAssertion(() => Assert.Equal("Done: revision 5 by alice.", Text(section.Find(".deployment-controls [role=status]"))));
        var put = Assert.Single(Registry.Sent, r => r.Method == "PUT");
        Assert.Equal(OperatorKey, put.ApiKey);
        AssertJson("""
            { "production": 1, "canary": { "version": 3, "percent": 30, "auto_promote": false }, "shadow": null, "sticky_by": "entity_id", "reason": "try v3" }
            """, put.Body);
        // The section read the traffic and history again: the new revision and who made it.
        section.WaitForAssertion(() => Assert.Equal("v3 on 30% of traffic", Text(section.FindAll("dl.traffic dd")[1])));
        Assert.Equal(["5", "2026-01-05 10:00:00 UTC", "alice", "deploy", "try v3"], Cells(section.Find("section[aria-labelledby=history-heading] tbody tr")));
        Assert.Equal(["Change canary", "Promote v3 to production", "Remove canary", "Start shadow", "Roll back to v2"], Buttons(section));
        Assert.All(Registry.Sent.Where(r => r.Method == "GET" && r.PathAndQuery.StartsWith("/api/models/", StringComparison.Ordinal)), r => Assert.Null(r.ApiKey));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public async Task Changing_the_canary_s_percent_keeps_its_auto_promotion_the_shadow_and_the_sticky_key()
    {
        await SignInAsync();
        var shadow = """{ "version": 2, "percent": 10 }""";
        var section = RenderSection(Current(canary: CanaryOnV3, shadow: shadow, sticky: "\"header:X-User\""));
        Registry.Answer("PUT", Deployment, HttpStatusCode.OK, Current(revision: 5, canary: CanaryOnV3, shadow: shadow));
        section.WaitForElement("#canary-percent");

        section.Find("#canary-percent").Input("20");
        section.Find(".deployment-controls form[aria-label=Canary]").Submit();
        Assert.Equal("Send 20% of card-fraud's traffic to v3 (now 50%)? v1 keeps the other 80%.", Text(section.Find("#confirm-change")));
        Click(section, "Confirm: change canary");

        section.WaitForAssertion(() => Assert.Single(Registry.Sent, r => r.Method == "PUT"));
        AssertJson("""
            { "production": 1, "canary": { "version": 3, "percent": 20, "auto_promote": true }, "shadow": { "version": 2, "percent": 10 },
              "sticky_by": "header:X-User", "reason": null }
            """, Registry.Sent.Single(r => r.Method == "PUT").Body);
    }

    [Fact]
    public async Task Promoting_the_canary_makes_it_production_and_ends_it()
    {
        await SignInAsync();
        var section = RenderSection(Current(canary: CanaryOnV3, shadow: """{ "version": 2, "percent": 100 }"""));
        Registry.Answer("PUT", Deployment, HttpStatusCode.OK, Current(revision: 5));
        section.WaitForElement("#canary-percent");

        Click(section, "Promote v3 to production");
        Assert.Equal("Promote v3 to production: all of card-fraud's traffic goes to v3 and v1 stops serving?", Text(section.Find("#confirm-change")));
        Click(section, "Confirm: promote v3");

        section.WaitForAssertion(() => Assert.Single(Registry.Sent, r => r.Method == "PUT"));
        AssertJson("""{ "production": 3, "canary": null, "shadow": { "version": 2, "percent": 100 }, "sticky_by": null, "reason": null }""",
            Registry.Sent.Single(r => r.Method == "PUT").Body);
    }

    [Fact]
    public async Task Removing_the_canary_and_stopping_the_shadow_each_leave_the_rest()
    {
        await SignInAsync();
        var section = RenderSection(Current(canary: CanaryOnV3, shadow: """{ "version": 2, "percent": 100 }"""));
        Registry.Answer("PUT", Deployment, HttpStatusCode.OK, Current(revision: 5));
        section.WaitForElement("#canary-percent");

        Click(section, "Remove canary");
        Assert.Equal("Remove the canary: v3 stops taking traffic and v1 serves all of card-fraud's traffic?", Text(section.Find("#confirm-change")));
        Click(section, "Cancel");
        Click(section, "Stop shadow");
        Assert.Equal("Stop mirroring card-fraud's traffic to v2?", Text(section.Find("#confirm-change")));
        Click(section, "Confirm: stop shadow");

        section.WaitForAssertion(() => Assert.Single(Registry.Sent, r => r.Method == "PUT"));
        AssertJson("""{ "production": 1, "canary": { "version": 3, "percent": 50, "auto_promote": true }, "shadow": null, "sticky_by": null, "reason": null }""",
            Registry.Sent.Single(r => r.Method == "PUT").Body);
    }

    [Fact]
    public async Task Starting_a_shadow_asks_then_sends_it_beside_production()
    {
        await SignInAsync();
        var section = RenderSection(Current());
        Registry.Answer("PUT", Deployment, HttpStatusCode.OK, Current(revision: 5));
        section.WaitForElement("#shadow-version");

        section.Find("#shadow-version").Change("2");
        section.Find("#shadow-percent").Input("101");
        section.Find(".deployment-controls form[aria-label=Shadow]").Submit();
        Assert.Equal("Enter a whole percent from 1 to 100.", Text(section.Find("#shadow-percent-error")));

        section.Find("#shadow-percent").Input("100");
        section.Find(".deployment-controls form[aria-label=Shadow]").Submit();
        Assert.Equal("Mirror 100% of card-fraud's traffic to v2 as a shadow? Its answers are logged, never returned to callers.", Text(section.Find("#confirm-change")));
        Click(section, "Confirm: start shadow");

        section.WaitForAssertion(() => Assert.Single(Registry.Sent, r => r.Method == "PUT"));
        AssertJson("""{ "production": 1, "canary": null, "shadow": { "version": 2, "percent": 100 }, "sticky_by": null, "reason": null }""",
            Registry.Sent.Single(r => r.Method == "PUT").Body);
    }

    [Fact]
    public async Task Rolling_back_names_the_version_it_returns_to_and_posts_the_reason_to_the_rollback_endpoint()
    {
        await SignInAsync();
        var section = RenderSection(Current(canary: CanaryOnV3));
        Registry.Answer("POST", Rollback, HttpStatusCode.OK, Current(revision: 5, by: "alice"));
        section.WaitForElement("#canary-percent");

        Click(section, "Roll back to v2");
        Assert.Equal("Roll card-fraud back to v2 on all traffic? v1 stops serving. The canary on v3 ends.", Text(section.Find("#confirm-change")));
        section.Find("#change-reason").Input("v1 answers slowly");
        Click(section, "Confirm: roll back");

        section.WaitForAssertion(() => Assert.Equal("Done: revision 5 by alice.", Text(section.Find(".deployment-controls [role=status]"))));
        var post = Assert.Single(Registry.Sent, r => r.Method == "POST");
        Assert.Equal((Rollback, OperatorKey), (post.PathAndQuery, post.ApiKey));
        AssertJson("""{ "reason": "v1 answers slowly" }""", post.Body);
        Assert.DoesNotContain(Registry.Sent, r => r.Method == "PUT");
    }

    [Fact]
    public async Task A_refusal_by_field_is_shown_in_words_with_each_field_s_message()
    {
        await SignInAsync();
        var section = RenderSection(Current());
        Registry.Invalid("PUT", Deployment, "The deployment request is not valid.",
            """{ "canary.version": ["version 3 has no parity result: only versions whose ONNX export matched the trained model can serve."] }""");
        section.WaitForElement("#canary-version");

        section.Find("#canary-version").Change("3");
        section.Find("#canary-percent").Input("10");
        section.Find(".deployment-controls form[aria-label=Canary]").Submit();
        Click(section, "Confirm: start canary");

        section.WaitForAssertion(() => Assert.Equal(
            "The control plane answered HTTP 400: The deployment request is not valid.",
            Text(section.Find(".deployment-controls .problem p"))));
        Assert.Equal(
            "canary.version version 3 has no parity result: only versions whose ONNX export matched the trained model can serve.",
            Text(section.Find(".deployment-controls .problem ul.field-errors li")));
        // The forms are back, as the operator left them, to try again.
        Assert.Equal("10", section.Find("#canary-percent").GetAttribute("value"));
    }

    [Theory]
    [InlineData(HttpStatusCode.Conflict, "Nothing to roll back to", "Model 'card-fraud' has only ever served version 1 in production.",
        "The control plane answered HTTP 409: Model 'card-fraud' has only ever served version 1 in production.")]
    [InlineData(HttpStatusCode.Forbidden, "Forbidden", "", "The key you signed in with may not do this: it needs the operator or admin role.")]
    public async Task A_refused_rollback_is_shown_in_words(HttpStatusCode status, string title, string detail, string shown)
    {
        await SignInAsync();
        var section = RenderSection(Current(), HistoryOf(Entry(1, 1)));
        Registry.Problem(Rollback, status, title, detail);
        section.WaitForElement("#canary-version");

        Click(section, "Roll back");
        Assert.Equal("Roll card-fraud back to its previous production version on all traffic? v1 stops serving.", Text(section.Find("#confirm-change")));
        Click(section, "Confirm: roll back");

        section.WaitForAssertion(() => Assert.Equal(shown, Text(section.Find(".deployment-controls .problem p"))));
        Assert.Equal(1, Registry.Count(Deployment));
    }
}
