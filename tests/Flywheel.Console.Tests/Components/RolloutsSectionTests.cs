using System.Net;
using Bunit;
using Flywheel.Console.Components.Serving;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class RolloutsSectionTests : ConsoleTest
{
    public RolloutsSectionTests()
    {
        // No polling unless a test asks for it: a refresh between finding a button and clicking it would race the click.
        Settings.RunRefreshInterval = TimeSpan.FromHours(1);
    }

    private const string Rollouts = "/api/models/card-fraud/rollouts";
    private const string Approve = $"/api/models/card-fraud/rollouts/{CannedServing.RolloutId}/approve";
    private const string Reject = $"/api/models/card-fraud/rollouts/{CannedServing.RolloutId}/reject";

    private IRenderedComponent<RolloutsSection> RenderSection(string rollouts, string? decisions = null, string? thenRollouts = null)
    {
        Registry.Json(Rollouts, thenRollouts is null ? [rollouts] : [rollouts, thenRollouts]);
        Registry.Json("/api/models/card-fraud/retraining?limit=50", decisions ?? CannedServing.Decisions());
        return Render<RolloutsSection>(p => p.Add(x => x.ModelName, "card-fraud"));
    }

    [Fact]
    public void A_rollout_shows_its_state_timeline_and_latest_analysis_with_every_check_s_numbers()
    {
        var section = RenderSection(CannedServing.Rollouts(CannedServing.Rollout("awaiting_approval", CannedServing.PassingAnalysis)));

        section.WaitForElement("article.rollout");
        Assert.Equal("v2 replacing v1 Awaiting approval", Text(section.Find("article.rollout h3")));
        Assert.Contains("v2 on 50% of traffic", Text(section.Find("ol.rollout-timeline")), StringComparison.Ordinal);
        var latest = section.Find("section.analysis.latest");
        Assert.Equal("Promote", Text(latest.QuerySelector(".badge")!));
        Assert.Equal("Promote: no check found the canary worse.", Text(latest.QuerySelector("p.reason")!));
        Assert.Contains("42 production / 40 canary requests", Text(latest), StringComparison.Ordinal);
        var checks = latest.QuerySelectorAll("tbody tr").Select(Cells).ToList();
        Assert.Equal(
            [
                ["Traffic", "passed", "42", "40", "—", "42 and 40 requests"],
                ["Latency p95", "passed", "0.41", "0.39", "0.62", "p95 0.41 ms vs 0.39 ms"],
                ["Accuracy", "failed", "0.9", "0.7", "0.003", "accuracy 0.9 vs 0.7"],
                ["AUC", "passed", "0.8", "0.81", "0.7", "AUC 0.81 vs 0.8"],
            ],
            checks);
        Assert.Equal("1 earlier analysis", Text(section.Find("details summary")));
        Assert.Single(section.FindAll("details section.analysis"));
    }

    [Fact]
    public void Without_sign_in_there_are_no_buttons_and_the_page_says_how_to_get_them()
    {
        var section = RenderSection(CannedServing.Rollouts(CannedServing.Rollout("awaiting_approval", CannedServing.PassingAnalysis)));

        section.WaitForElement("article.rollout");
        Assert.Empty(section.FindAll("article.rollout button"));
        Assert.Contains("Sign in with an operator key", Text(section.Find("#sign-in-to-decide")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_predictor_key_sees_no_buttons()
    {
        await SignInAsync("scorer", "predictor");

        var section = RenderSection(CannedServing.Rollouts(CannedServing.Rollout("awaiting_approval", CannedServing.PassingAnalysis)));

        section.WaitForElement("article.rollout");
        Assert.Empty(section.FindAll("article.rollout button"));
        Assert.Contains("needs an operator or admin key", Text(section.Find("#sign-in-to-decide")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("awaiting_approval", new[] { "Approve", "Reject" })]
    [InlineData("canary", new[] { "Reject" })]
    [InlineData("shadowing", new[] { "Reject" })]
    [InlineData("promoting", new string[0])]
    [InlineData("promoted", new string[0])]
    [InlineData("rolled_back", new string[0])]
    public async Task An_operator_gets_the_buttons_the_state_allows(string state, string[] buttons)
    {
        await SignInAsync();

        var section = RenderSection(CannedServing.Rollouts(CannedServing.Rollout(state)));

        section.WaitForElement("article.rollout");
        Assert.Equal(buttons, section.FindAll("article.rollout button").Select(Text));
        Assert.Equal("No analysis yet: the canary is analysed once it takes traffic.", Text(section.Find("article.rollout h4 + p")));
    }

    [Fact]
    public async Task Approving_asks_for_confirmation_then_acts_with_the_operator_s_key_and_shows_the_promotion()
    {
        await SignInAsync();
        Registry.Json(Approve, CannedServing.Rollout("awaiting_approval"));
        var section = RenderSection(
            CannedServing.Rollouts(CannedServing.Rollout("awaiting_approval", CannedServing.PassingAnalysis)),
            thenRollouts: CannedServing.Rollouts(CannedServing.Rollout("promoted", CannedServing.PassingAnalysis, "Promoted: approved by alice.")));
        section.WaitForElement("article.rollout button");

        section.FindAll("article.rollout button").Single(b => Text(b) == "Approve").Click();

        Assert.Equal("Approve: promote v2 to all production traffic?", Text(section.Find(".actions p[role=alert]")));
        Assert.Equal(["Confirm approve", "Cancel"], section.FindAll(".actions button").Select(Text));
        Assert.Equal(0, Registry.Count(Approve));

        section.FindAll(".actions button").Single(b => Text(b) == "Cancel").Click();
        section.WaitForAssertion(() => Assert.Equal(["Approve", "Reject"], section.FindAll(".actions button").Select(Text)));

        section.FindAll(".actions button").Single(b => Text(b) == "Approve").Click();
        section.FindAll(".actions button").Single(b => Text(b) == "Confirm approve").Click();

        section.WaitForAssertion(() => Assert.Equal("promoted", section.Find("article.rollout h3 .badge").GetAttribute("data-state")));
        Assert.Empty(section.FindAll("article.rollout button"));
        var post = Assert.Single(Registry.Sent, r => r.PathAndQuery == Approve);
        Assert.Equal(("POST", OperatorKey), (post.Method, post.ApiKey));
        Assert.All(Registry.Sent.Where(r => r.Method == "GET" && r.PathAndQuery.StartsWith(Rollouts, StringComparison.Ordinal)), r => Assert.Null(r.ApiKey));
        Assert.Equal(0, Registry.Count(Reject));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public void A_rollout_in_progress_refreshes_until_it_finishes()
    {
        Settings.RunRefreshInterval = RefreshInterval;

        var section = RenderSection(
            CannedServing.Rollouts(CannedServing.Rollout("canary")),
            thenRollouts: CannedServing.Rollouts(CannedServing.Rollout("rolled_back", reason: "Rolled back: canary p95 latency 3.1 ms vs 0.4 ms.")));

        section.WaitForAssertion(() => Assert.Equal("rolled_back", section.Find("article.rollout h3 .badge").GetAttribute("data-state")));
        Assert.Contains("Rolled back: canary p95 latency 3.1 ms vs 0.4 ms.", Text(section.Find("article.rollout dl")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_rejection_is_shown_in_words_on_the_rollout()
    {
        await SignInAsync();
        var section = RenderSection(CannedServing.Rollouts(CannedServing.Rollout("canary")));
        Registry.Problem(Reject, HttpStatusCode.Conflict, "Nothing to reject", "Rollout is promoted; only a rollout in progress can be rejected.");
        section.WaitForElement("article.rollout button");

        section.Find("article.rollout button").Click();
        Assert.Equal("Reject: take v2's traffic away and keep v1 in production?", Text(section.Find(".actions p[role=alert]")));
        section.FindAll(".actions button").Single(b => Text(b) == "Confirm reject").Click();

        section.WaitForAssertion(() => Assert.Contains("only a rollout in progress can be rejected", Text(section.Find("article.rollout div.problem")), StringComparison.Ordinal));
        Assert.Equal(OperatorKey, Assert.Single(Registry.Sent, r => r.PathAndQuery == Reject).ApiKey);
    }

    [Fact]
    public void No_rollouts_and_no_decisions_are_said_so_and_decisions_link_their_runs()
    {
        var empty = RenderSection(CannedServing.Rollouts());
        empty.WaitForAssertion(() => Assert.Contains("No rollouts yet", Text(empty.Find("section[aria-labelledby=rollouts-heading]")), StringComparison.Ordinal));
        Assert.Contains("No retraining triggers yet", Text(empty.Find("section[aria-labelledby=retraining-heading]")), StringComparison.Ordinal);
    }

    [Fact]
    public void Retraining_decisions_show_trigger_decision_reason_and_run()
    {
        var section = RenderSection(CannedServing.Rollouts(), CannedServing.Decisions(
            CannedServing.Decision("started", "Drift detected.", Canned.RunId),
            CannedServing.Decision("skipped", "Cooldown: last retraining 10 min ago.")));

        section.WaitForAssertion(() => Assert.Equal(2, section.FindAll("section[aria-labelledby=retraining-heading] tbody tr").Count));
        var rows = section.FindAll("section[aria-labelledby=retraining-heading] tbody tr").Select(Cells).ToList();
        Assert.Equal(["2026-01-04 08:00:00 UTC", "drift", "Started", "Drift detected.", "0190a6b2-7c1…"], rows[0]);
        Assert.Equal(["drift", "Skipped", "Cooldown: last retraining 10 min ago.", "—"], rows[1][1..]);
        Assert.Equal($"/runs/{Canned.RunId}", section.Find("section[aria-labelledby=retraining-heading] tbody a").GetAttribute("href"));
    }
}
