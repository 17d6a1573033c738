using System.Net;
using Bunit;
using Flywheel.Console.Components.Layout;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Components.Serving;
using Flywheel.Console.Security;
using Flywheel.Console.Tests.Fakes;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Flywheel.Console.Tests.Components;

/// <summary>A viewer key: reads what an operator reads, is offered no action, and is refused in words if it forces one.</summary>
public sealed class ViewerTests : ConsoleTest
{
    private const string Rollouts = "/api/models/card-fraud/rollouts";
    private const string Approve = $"/api/models/card-fraud/rollouts/{CannedServing.RolloutId}/approve";
    private const string ViewerSentence = "Signed in as a viewer: you can look, not change.";

    public ViewerTests()
    {
        Settings.RunRefreshInterval = TimeSpan.FromHours(1);
    }

    [Theory]
    [InlineData(new[] { "viewer" }, true, false, true)]
    [InlineData(new[] { "operator" }, true, true, false)]
    [InlineData(new[] { "admin" }, true, true, false)]
    [InlineData(new[] { "viewer", "operator" }, true, true, false)]
    [InlineData(new[] { "predictor" }, false, false, false)]
    [InlineData(new[] { "viewer", "predictor" }, true, false, true)]
    public async Task The_session_reads_with_viewer_operator_or_admin_and_changes_only_with_operator_or_admin(
        string[] roles, bool canRead, bool canOperate, bool readOnly)
    {
        var session = await SignInAsync("someone", roles);

        Assert.Equal((canRead, canOperate, readOnly), (session.CanRead, session.CanOperate, session.ReadOnly));
    }

    [Fact]
    public void Nobody_signed_in_may_neither_read_nor_change()
    {
        var session = Services.GetRequiredService<OperatorSession>();

        Assert.Equal((false, false, false), (session.CanRead, session.CanOperate, session.ReadOnly));
    }

    [Fact]
    public async Task The_header_names_the_viewer_and_the_role()
    {
        await SignInAsync("auditor", "viewer");

        var layout = Render<MainLayout>(p => p.Add(x => x.Body, (RenderFragment)(b => b.AddContent(0, "page"))));

        Assert.Equal("Signed in as auditor (viewer)", Text(layout.Find("#signed-in-as")));
    }

    [Theory]
    [InlineData("awaiting_approval")]
    [InlineData("canary")]
    [InlineData("shadowing")]
    public async Task A_viewer_is_offered_no_approve_or_reject_and_is_told_why_where_they_would_be(string state)
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json(Rollouts, CannedServing.Rollouts(CannedServing.Rollout(state, CannedServing.PassingAnalysis)));
        Registry.Json("/api/models/card-fraud/retraining?limit=50", CannedServing.Decisions());

        var section = Render<RolloutsSection>(p => p.Add(x => x.ModelName, "card-fraud"));

        section.WaitForElement("article.rollout");
        Assert.Empty(section.FindAll("button"));
        Assert.Empty(section.FindAll(".actions"));
        Assert.Equal(ViewerSentence, Text(section.Find("#sign-in-to-decide")));
        // The rollout itself is all there to read.
        Assert.Equal(state, section.Find("article.rollout h3 .badge").GetAttribute("data-state"));
        Assert.NotNull(section.Find("section.analysis.latest"));
        Assert.DoesNotContain(Registry.Sent, r => r.Method != "GET");
    }

    [Fact]
    public async Task An_operator_is_not_told_the_viewer_sentence()
    {
        await SignInAsync();
        Registry.Json(Rollouts, CannedServing.Rollouts(CannedServing.Rollout("awaiting_approval")));
        Registry.Json("/api/models/card-fraud/retraining?limit=50", CannedServing.Decisions());

        var section = Render<RolloutsSection>(p => p.Add(x => x.ModelName, "card-fraud"));

        section.WaitForElement("article.rollout button");
        Assert.Empty(section.FindAll("#sign-in-to-decide"));
        Assert.DoesNotContain(ViewerSentence, section.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_viewer_who_forces_an_approval_sees_the_registry_s_refusal_in_words()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json(Rollouts, CannedServing.Rollouts(CannedServing.Rollout("awaiting_approval")));
        Registry.Problem(Approve, HttpStatusCode.Forbidden, "Forbidden", "");
        var rollout = Assert.Single((await Client.GetRolloutsAsync("card-fraud", CancellationToken.None)).Value!.Rollouts);

        // The buttons forced on, as a crafted circuit could; the API is what refuses.
        var card = Render<RolloutCard>(p => p
            .Add(x => x.Rollout, rollout)
            .Add(x => x.CanOperate, true)
            .Add(x => x.Decide, async approve => (await Client.ApproveRolloutAsync("card-fraud", rollout.RolloutId, PlatformCredential.ForKey(OperatorKey), CancellationToken.None)).Problem));
        card.FindAll("button").Single(b => Text(b) == "Approve").Click();
        card.FindAll("button").Single(b => Text(b) == "Confirm approve").Click();

        card.WaitForAssertion(() => Assert.Equal(
            "The key you signed in with may not do this: it needs the operator or admin role.", Text(card.Find("div.problem[role=alert]"))));
        Assert.Equal(1, Registry.Count(Approve));
    }

    [Fact]
    public async Task A_viewer_reads_the_audit_log_with_its_key()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json("/api/audit?limit=50", CannedServing.Audit(null,
            CannedServing.AuditEntry(9, "alice", "rollout.approved"), CannedServing.AuditEntry(8, "orchestrator", "deployment.changed")));

        var page = Render<AuditPage>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("table.audit tbody tr").Count));
        Assert.Equal(["alice", "rollout.approved"], Cells(page.FindAll("table.audit tbody tr")[0])[1..3]);
        Assert.Equal(OperatorKey, Assert.Single(Registry.Sent, r => r.PathAndQuery == "/api/audit?limit=50").ApiKey);
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public async Task A_predictor_key_is_told_it_cannot_read_the_audit_log_and_nothing_is_sent()
    {
        await SignInAsync("svc", "predictor");

        var page = Render<AuditPage>();

        Assert.Contains("needs a viewer, operator or admin key", Text(page.Find("#cannot-read")), StringComparison.Ordinal);
        Assert.Empty(page.FindAll("form.filters"));
        Assert.Equal(["/api/keys/me"], Registry.Requests);
    }

    [Fact]
    public async Task A_viewer_looks_up_a_prediction_with_its_key()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json(CannedPredictions.Path, CannedPredictions.Prediction(CannedPredictions.Label));

        var page = Render<PredictionsPage>(p => p.Add(x => x.Id, CannedPredictions.PredictionId));

        page.WaitForElement("dl.prediction-facts");
        Assert.Contains("card-fraud", Text(page.Find("dl.prediction-facts")), StringComparison.Ordinal);
        Assert.Equal(OperatorKey, Assert.Single(Registry.Sent, r => r.PathAndQuery == CannedPredictions.Path).ApiKey);
    }
}
