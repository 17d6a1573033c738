using System.Net;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class RunPageTests : ConsoleTest
{
    private const string RunPath = $"/api/training-runs/{Canned.RunId}";

    private static readonly string FailedSteps = $"""
        [
          {Canned.Step("split", "succeeded", "2026-01-03T09:59:10+00:00", "2026-01-03T09:59:11+00:00", "stratified split: 800 training rows, 200 held out")},
          {Canned.Step("parity", "failed", "2026-01-03T09:59:30+00:00", "2026-01-03T09:59:31.5+00:00", "ONNX Runtime differs")},
          {Canned.Step("snapshot", "succeeded", "2026-01-03T09:59:01+00:00", "2026-01-03T09:59:03+00:00")},
          {Canned.Step("train", "succeeded", "2026-01-03T09:59:12+00:00", "2026-01-03T09:59:24+00:00", "12.0 s")}
        ]
        """;

    private IRenderedComponent<RunPage> RenderRun() => Render<RunPage>(p => p.Add(x => x.RunId, Guid.Parse(Canned.RunId)));

    [Fact]
    public void A_failed_run_shows_its_steps_in_the_order_they_ran_and_why_it_failed()
    {
        Registry.Json(RunPath, Canned.Run("failed", FailedSteps, error: "parity: ONNX Runtime differs from ML.NET by up to 0.3"));

        var page = RenderRun();

        page.WaitForAssertion(() => Assert.Equal(4, page.FindAll(".timeline tbody tr").Count));
        Assert.Equal(["snapshot", "split", "train", "parity"], page.FindAll(".timeline tbody tr").Select(tr => tr.GetAttribute("data-step")));
        var parity = Cells(page.Find(".timeline tr[data-step=parity]"));
        Assert.Equal(["4", "Check ONNX parity", "Failed", "2026-01-03 09:59:30 UTC (+30.0 s)", "2026-01-03 09:59:31 UTC", "1.5 s", "ONNX Runtime differs"], parity);
        Assert.Contains("parity: ONNX Runtime differs from ML.NET by up to 0.3", Text(page.Find("#error-heading").ParentElement!), StringComparison.Ordinal);
        Assert.Equal("Failed", Text(page.Find("[aria-live] .badge")));
        // From the request at 09:59:00 to the last step's finish at 09:59:31.5.
        Assert.Contains("Took 31.5 s", Text(page.Find(".run-status")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_running_run_refreshes_until_it_finishes_and_then_stops_asking()
    {
        var running = $"[{Canned.Step("snapshot", "running", "2026-01-03T09:59:01+00:00")}]";
        var done = $"[{Canned.Step("snapshot", "succeeded", "2026-01-03T09:59:01+00:00", "2026-01-03T09:59:03+00:00")}]";
        Registry.Json(RunPath, Canned.Run("queued"), Canned.Run("running", running), Canned.Run("running", running), Canned.Run("succeeded", done, version: 3));
        // The page stays on "running" while the test reads it: the third answer waits for the gate.
        var gate = new TaskCompletionSource();
        Registry.HoldUntil(RunPath, gate.Task, after: 2);

        var page = RenderRun();

        var status = page.WaitForElement("[aria-live=polite][role=status]");
        page.WaitForAssertion(() => Assert.Contains("refreshing every 20 ms", Text(page.Find(".run-status")), StringComparison.Ordinal));
        gate.SetResult();
        page.WaitForAssertion(() => Assert.Equal("Succeeded", Text(page.Find("[aria-live] .badge"))), TimeSpan.FromSeconds(5));
        Assert.Equal("/models/card-fraud/versions/3", page.Find("section[aria-labelledby=run-facts-heading] a[href*=versions]").GetAttribute("href"));
        Assert.DoesNotContain("refreshing", Text(page.Find(".run-status")), StringComparison.Ordinal);
        var asked = Registry.Count(RunPath);
        Assert.Equal(4, asked);

        Thread.Sleep(RefreshInterval * 10);

        Assert.Equal(asked, Registry.Count(RunPath));
    }

    [Fact]
    public async Task Leaving_a_running_run_stops_its_refresh()
    {
        Registry.Json(RunPath, Canned.Run("running"));
        var page = RenderRun();
        page.WaitForState(() => Registry.Count(RunPath) >= 3, TimeSpan.FromSeconds(5));

        await DisposeComponentsAsync();
        var asked = Registry.Count(RunPath);
        await Task.Delay(RefreshInterval * 10);

        Assert.Equal(asked, Registry.Count(RunPath));
    }

    [Fact]
    public void A_failed_refresh_keeps_the_last_answer_and_says_so()
    {
        Registry.Json(RunPath, Canned.Run("running"));
        for (var i = 0; i < 3; i++)
        {
            Registry.Problem(RunPath, HttpStatusCode.BadGateway, "Bad gateway", "upstream restarting");
        }

        Registry.Json(RunPath, Canned.Run("running"));

        var page = RenderRun();

        page.WaitForAssertion(() => Assert.Contains("Could not refresh: The control plane answered HTTP 502", Text(page.Find(".run-status")), StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        Assert.Equal("Running", Text(page.Find("[aria-live] .badge")));
        page.WaitForAssertion(() => Assert.DoesNotContain("Could not refresh", Text(page.Find(".run-status")), StringComparison.Ordinal), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_finished_run_is_not_polled()
    {
        Registry.Json(RunPath, Canned.Run("succeeded", version: 1));

        var page = RenderRun();
        page.WaitForAssertion(() => Assert.Equal("Succeeded", Text(page.Find("[aria-live] .badge"))));
        Thread.Sleep(RefreshInterval * 5);

        Assert.Equal(1, Registry.Count(RunPath));
    }

    [Fact]
    public void Search_trials_are_listed_with_their_score_or_error()
    {
        const string trials = """
            [ { "trial": 2, "trainer": "fasttree", "hyperparameters": { "num_leaves": 20 }, "metric": "log_loss", "value": 0.31, "error": null },
              { "trial": 1, "trainer": "lightgbm", "hyperparameters": null, "metric": null, "value": null, "error": "out of memory" } ]
            """;
        Registry.Json(RunPath, Canned.Run("succeeded", trials: trials));

        var page = RenderRun();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("section[aria-labelledby=trials-heading] tbody tr").Count));
        var rows = page.FindAll("section[aria-labelledby=trials-heading] tbody tr").Select(Cells).ToList();
        Assert.Equal(["1", "lightgbm", "defaults", "—", "—", "out of memory"], rows[0]);
        Assert.Equal(["2", "fasttree", "num_leaves=20", "Log loss", "0.31", "—"], rows[1]);
    }

    [Fact]
    public void A_run_that_does_not_exist_is_a_message()
    {
        Registry.Problem(RunPath, HttpStatusCode.NotFound, "Training run not found", $"There is no training run {Canned.RunId}.");

        var page = RenderRun();

        page.WaitForAssertion(() => Assert.Contains($"There is no training run {Canned.RunId}.", Text(page.Find("[role=alert]")), StringComparison.Ordinal));
        Assert.Empty(page.FindAll(".timeline"));
    }
}
