using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class AuditPageTests : ConsoleTest
{
    [Fact]
    public void Without_sign_in_the_page_asks_for_it_and_reads_nothing()
    {
        var page = Render<AuditPage>();

        Assert.Contains("needs an operator or admin key", Text(page.Find(".empty")), StringComparison.Ordinal);
        Assert.Equal("/sign-in?return=%2Faudit", page.Find(".empty a").GetAttribute("href"));
        Assert.Empty(Registry.Requests);
    }

    [Fact]
    public async Task Entries_are_read_with_the_operator_s_key_and_filtered_by_model_and_action()
    {
        await SignInAsync();
        Registry.Json("/api/audit?limit=50", CannedServing.Audit(7,
            CannedServing.AuditEntry(9, "alice", "rollout.approved"), CannedServing.AuditEntry(8, "orchestrator", "deployment.changed")));
        Registry.Json("/api/audit?limit=50&model=card-fraud&action=rollout.approved", CannedServing.Audit(null, CannedServing.AuditEntry(9, "alice", "rollout.approved")));
        Registry.Json("/api/audit?limit=50&before=7", CannedServing.Audit(null));

        var page = Render<AuditPage>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("table.audit tbody tr").Count));
        Assert.Equal(["2026-01-04 10:13:00 UTC", "alice", "rollout.approved", "card-fraud"], Cells(page.FindAll("table.audit tbody tr")[0])[..4]);
        Assert.Equal(["Older"], page.FindAll(".pager button").Select(Text));

        page.Find("#audit-model").Input("card-fraud");
        page.Find("#audit-action").Input("rollout.approved");
        page.Find("form.filters").Submit();

        page.WaitForAssertion(() => Assert.Single(page.FindAll("table.audit tbody tr")));
        Assert.All(Registry.Sent, r => Assert.Equal(OperatorKey, r.ApiKey));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public async Task A_filter_applied_while_the_first_load_is_slow_is_not_overwritten_when_that_load_answers()
    {
        await SignInAsync();
        var slow = new TaskCompletionSource();
        Registry.Json("/api/audit?limit=50", CannedServing.Audit(null,
            CannedServing.AuditEntry(9, "alice", "rollout.approved"), CannedServing.AuditEntry(8, "orchestrator", "deployment.changed")));
        Registry.HoldUntil("/api/audit?limit=50", slow.Task);
        Registry.Json("/api/audit?limit=50&action=deployment.changed", CannedServing.Audit(null, CannedServing.AuditEntry(8, "orchestrator", "deployment.changed")));

        var page = Render<AuditPage>();
        page.Find("#audit-action").Input("deployment.changed");
        page.Find("form.filters").Submit();
        page.WaitForAssertion(() => Assert.Single(page.FindAll("table.audit tbody tr")));

        slow.SetResult();
        page.WaitForAssertion(() => Assert.Equal(2, Registry.Count("/api/audit?limit=50") + Registry.Count("/api/audit?limit=50&action=deployment.changed")));
        await Task.Delay(50);
        page.Render();
        var rows = page.FindAll("table.audit tbody tr");
        Assert.Single(rows);
        Assert.Equal("deployment.changed", Cells(rows[0])[2]);
    }

    [Fact]
    public async Task Paging_older_and_back_keeps_the_cursors_and_an_empty_page_says_so()
    {
        await SignInAsync();
        Registry.Json("/api/audit?limit=50", CannedServing.Audit(7, CannedServing.AuditEntry(9, "alice", "rollout.approved")));
        Registry.Json("/api/audit?limit=50&before=7", CannedServing.Audit(null));

        var page = Render<AuditPage>();
        page.WaitForElement(".pager button");
        page.Find(".pager button").Click();

        page.WaitForAssertion(() => Assert.Equal("No entries.", Text(page.Find(".empty"))));
        Assert.Equal(1, Registry.Count("/api/audit?limit=50&before=7"));
    }
}
