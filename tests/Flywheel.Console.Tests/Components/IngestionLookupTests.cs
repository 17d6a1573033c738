using System.Net;
using Bunit;
using Flywheel.Console.Components.Data;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class IngestionLookupTests : ConsoleTest
{
    private const string FirstPage = $"/api/models/card-fraud/ingestions/{Canned.IngestionId}?offset=0&limit=50";
    private const string SecondPage = $"/api/models/card-fraud/ingestions/{Canned.IngestionId}?offset=50&limit=50";

    private static string ManyQuarantined(int from, int count) =>
        "[" + string.Join(",", Enumerable.Range(from, count).Select(line => Canned.Quarantined(line, "amount", $"line {line} is below the minimum 0.", "range"))) + "]";

    private IRenderedComponent<IngestionLookup> LookUp(string text)
    {
        var lookup = Render<IngestionLookup>(p => p.Add(x => x.ModelName, "card-fraud"));
        lookup.Find("#ingestion-id").Input(text);
        lookup.Find("form").Submit();
        return lookup;
    }

    [Fact]
    public void The_id_field_is_labelled()
    {
        var lookup = Render<IngestionLookup>(p => p.Add(x => x.ModelName, "card-fraud"));

        Assert.Equal("Ingestion id", Text(lookup.Find("label[for=ingestion-id]")));
        Assert.NotNull(lookup.Find("input#ingestion-id"));
    }

    [Fact]
    public void Text_that_is_not_an_ingestion_id_is_refused_without_asking_the_registry()
    {
        var lookup = LookUp("last tuesday's upload");

        Assert.Contains("That is not an ingestion id", Text(lookup.Find("#ingestion-id-error")), StringComparison.Ordinal);
        Assert.Equal("ingestion-id-error", lookup.Find("#ingestion-id").GetAttribute("aria-describedby"));
        Assert.Empty(Registry.Requests);
    }

    [Fact]
    public async Task An_ingestion_shows_its_counts_its_problems_by_field_and_where_its_rows_failed()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json(FirstPage, Canned.Ingestion(2, $"[{Canned.Quarantined(7, "amount", "is below the minimum 0.", "range")},{Canned.Quarantined(3, "merchant_category", "is not one of the categories.", "category")}]"));

        var lookup = LookUp($"  {Canned.IngestionId} ");

        lookup.WaitForElement("article.report");
        Assert.Equal(["97 accepted", "2 rejected", "1 duplicates"], lookup.FindAll("ul.counts li").Select(Text));
        var fields = lookup.FindAll("article.report table")[0].QuerySelectorAll("tbody tr").Select(tr => string.Join(" | ", Cells(tr))).ToList();
        Assert.Equal(
            [
                "amount | 0% | 0 | 1 | 2 | 0 | 0",
                "merchant_category | 12.5% | 0 | 0 | 0 | 4 | 0",
                "email | 50% | 0 | 0 | 0 | 0 | 0",
                "event_time | — | 0 | 0 | 0 | 0 | time: 1",
            ],
            fields);
        var quarantine = lookup.FindAll("article.report table")[1].QuerySelectorAll("tbody tr").Select(tr => string.Join(" | ", Cells(tr))).ToList();
        Assert.Equal(["3 | merchant_category | is not one of the categories.", "7 | amount | is below the minimum 0."], quarantine);
        Assert.Equal("Rows 1–2 of 2", Text(lookup.Find("article.report [role=status]")));
        Assert.Empty(lookup.FindAll("nav.pager"));
    }

    [Fact]
    public void Without_a_sign_in_the_report_is_not_asked_for_and_the_page_says_which_key_reads_it()
    {
        var lookup = LookUp(Canned.IngestionId);

        var notice = Text(lookup.Find("#ingestion-needs-key"));
        Assert.Contains("needs a viewer, operator or admin key", notice, StringComparison.Ordinal);
        Assert.StartsWith("/sign-in?return=", lookup.Find("#ingestion-needs-key a").GetAttribute("href"), StringComparison.Ordinal);
        Assert.Empty(lookup.FindAll("article.report"));
        Assert.Empty(Registry.Requests);
    }

    [Fact]
    public async Task A_predictor_key_is_not_sent_for_a_report_and_is_told_to_sign_in_with_another()
    {
        await SignInAsync("scorer", "predictor");

        var lookup = LookUp(Canned.IngestionId);

        Assert.Contains("Sign in with another key", Text(lookup.Find("#ingestion-needs-key")), StringComparison.Ordinal);
        Assert.Equal(["/api/keys/me"], Registry.Requests);
    }

    [Fact]
    public async Task Signing_in_shows_the_report_of_the_ingestion_already_asked_for()
    {
        Registry.Json(FirstPage, Canned.Ingestion(1, $"[{Canned.Quarantined(7, "amount", "is below the minimum 0.", "range")}]"));
        var lookup = LookUp(Canned.IngestionId);
        Assert.NotNull(lookup.Find("#ingestion-needs-key"));

        await SignInAsync("auditor", "viewer");

        lookup.WaitForElement("article.report");
        Assert.Empty(lookup.FindAll("#ingestion-needs-key"));
        Assert.Equal(OperatorKey, Assert.Single(Registry.Sent, request => request.PathAndQuery == FirstPage).ApiKey);
    }

    [Fact]
    public async Task Quarantined_values_are_never_shown_because_they_may_hold_pii()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json(FirstPage, Canned.Ingestion(1, $"[{Canned.Quarantined(7, "amount", "is below the minimum 0.", "range")}]"));

        var lookup = LookUp(Canned.IngestionId);

        lookup.WaitForElement("article.report");
        Assert.DoesNotContain("someone@example.com", lookup.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_quarantine_pages_forward_and_back_by_offset()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json(FirstPage, Canned.Ingestion(70, ManyQuarantined(1, 50)));
        Registry.Json(SecondPage, Canned.Ingestion(70, ManyQuarantined(51, 20)));

        var lookup = LookUp(Canned.IngestionId);
        lookup.WaitForElement("nav.pager");
        Assert.Equal("Rows 1–50 of 70", Text(lookup.Find("article.report [role=status]")));
        Assert.True(lookup.Find("nav.pager button:first-child").HasAttribute("disabled"));

        lookup.Find("nav.pager button:last-child").Click();

        lookup.WaitForAssertion(() => Assert.Equal("Rows 51–70 of 70", Text(lookup.Find("article.report [role=status]"))));
        Assert.StartsWith("51 | amount", string.Join(" | ", Cells(lookup.FindAll("article.report table")[1].QuerySelector("tbody tr")!)), StringComparison.Ordinal);
        Assert.True(lookup.Find("nav.pager button:last-child").HasAttribute("disabled"));

        lookup.Find("nav.pager button:first-child").Click();

        lookup.WaitForAssertion(() => Assert.Equal("Rows 1–50 of 70", Text(lookup.Find("article.report [role=status]"))));
        Assert.Equal([FirstPage, SecondPage, FirstPage], Registry.Requests.Where(path => path != "/api/keys/me"));
        Assert.All(Registry.Sent, request => Assert.Equal(OperatorKey, request.ApiKey));
    }

    [Fact]
    public async Task An_ingestion_the_model_does_not_have_is_a_message()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Problem(FirstPage, HttpStatusCode.NotFound, "Ingestion not found", $"Model 'card-fraud' has no ingestion {Canned.IngestionId}.");

        var lookup = LookUp(Canned.IngestionId);

        lookup.WaitForAssertion(() => Assert.Contains($"Model 'card-fraud' has no ingestion {Canned.IngestionId}.", Text(lookup.Find("[role=alert]")), StringComparison.Ordinal));
        Assert.Empty(lookup.FindAll("article.report"));
    }
}
