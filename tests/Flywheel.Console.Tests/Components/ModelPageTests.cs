using System.Net;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace Flywheel.Console.Tests.Components;

public sealed class ModelPageTests : ConsoleTest
{
    private IRenderedComponent<ModelPage> RenderModel(string? section = null)
    {
        Services.GetRequiredService<NavigationManager>().NavigateTo(section is null ? "/models/card-fraud" : $"/models/card-fraud?section={section}");
        return Render<ModelPage>(p => p.Add(x => x.Name, "card-fraud"));
    }

    [Fact]
    public void A_model_that_does_not_exist_is_a_message_with_a_way_back()
    {
        Registry.Problem("/api/models/ghost", HttpStatusCode.NotFound, "Model not found", "There is no model named 'ghost'.");

        var page = Render<ModelPage>(p => p.Add(x => x.Name, "ghost"));

        page.WaitForAssertion(() => Assert.Contains("There is no model named 'ghost'.", Text(page.Find("[role=alert]")), StringComparison.Ordinal));
        Assert.Equal("/models", page.Find("[role=alert] a").GetAttribute("href"));
        Assert.Empty(page.FindAll("table"));
    }

    [Fact]
    public void The_schema_shows_each_feature_with_its_type_nullability_domain_and_pii_flag_and_the_target()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions());

        var page = RenderModel();

        page.WaitForAssertion(() => Assert.Equal(3, page.FindAll("section[aria-labelledby=schema-heading] tbody tr").Count));
        var rows = page.FindAll("section[aria-labelledby=schema-heading] tbody tr")
            .Select(tr => string.Join(" | ", Cells(tr)))
            .ToList();
        Assert.Equal(
            [
                "amount | numeric | no | 0 to 10,000 | no",
                "merchant_category | categorical | yes | grocery, travel | no",
                "email | categorical | yes | any | PII",
            ],
            rows);
        Assert.Contains("is_fraud (boolean)", Text(page.Find("section[aria-labelledby=schema-heading] dl")), StringComparison.Ordinal);
    }

    [Fact]
    public void Versions_are_listed_newest_first_with_the_binary_metrics_they_report()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions(
            Canned.Version(1, """{ "auc": 0.9, "log_loss": 0.31, "accuracy": 0.88, "rows": 200 }"""),
            Canned.Version(2, """{ "auc": 0.92, "log_loss": 0.29, "accuracy": 0.9, "rows": 200 }""", parent: 1)));

        var page = RenderModel();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("section[aria-labelledby=versions-heading] tbody tr").Count));
        Assert.Equal(
            ["Version", "AUC", "Log loss", "Accuracy", "Parity", "Trainer", "Created"],
            page.FindAll("section[aria-labelledby=versions-heading] thead th").Select(Text));
        var newest = page.FindAll("section[aria-labelledby=versions-heading] tbody tr")[0];
        Assert.Equal(["v2", "0.92", "0.29", "0.9", "3.2E-07", "lightgbm", "2026-01-03 10:00:00 UTC"], Cells(newest));
        Assert.Equal("/models/card-fraud/versions/2", newest.QuerySelector("a")!.GetAttribute("href"));
        Assert.Equal("page", page.Find("nav.tabs a[aria-current]").GetAttribute("aria-current"));
        Assert.Equal("Versions", Text(page.Find("nav.tabs a[aria-current]")));
    }

    [Fact]
    public void A_model_without_versions_says_how_to_get_one()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions());

        var page = RenderModel();

        page.WaitForAssertion(() => Assert.Contains("No versions yet", Text(page.Find("section[aria-labelledby=versions-heading]")), StringComparison.Ordinal));
    }

    [Fact]
    public void The_runs_section_lists_runs_with_their_state_trainer_requester_and_version()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/training-runs", Canned.Runs(Canned.Run("succeeded", version: 2)));

        var page = RenderModel("runs");

        page.WaitForAssertion(() => Assert.Single(page.FindAll("section[aria-labelledby=runs-heading] tbody tr")));
        var cells = Cells(page.Find("section[aria-labelledby=runs-heading] tbody tr"));
        Assert.Equal(["0190a6b2-7c1…", "Succeeded", "lightgbm", "admin", "2026-01-03 09:59:00 UTC", "v2"], cells);
        Assert.Equal($"/runs/{Canned.RunId}", page.Find("section[aria-labelledby=runs-heading] tbody th a").GetAttribute("href"));
        Assert.Equal("Training runs", Text(page.Find("nav.tabs a[aria-current]")));
    }

    [Fact]
    public void The_data_section_shows_what_the_latest_snapshots_held_and_offers_the_ingestion_lookup()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/training-runs", Canned.Runs(Canned.Run("succeeded", version: 2)));
        Registry.Json($"/api/models/card-fraud/snapshots/{Canned.SnapshotId}", Canned.Snapshot);
        Registry.Json("/api/models/card-fraud/ingestions", Canned.Ingestions());

        var page = RenderModel("data");

        page.WaitForAssertion(() => Assert.Single(page.FindAll("section[aria-labelledby=snapshots-heading] tbody tr")));
        var cells = Cells(page.Find("section[aria-labelledby=snapshots-heading] tbody tr"));
        Assert.Equal(["0190a6b2-000…", "before 2026-01-01 00:00:00 UTC", "1,000", "990", "10", "5eed5eed5eed…", "0190a6b2-7c1…"], cells);
        Assert.Equal("ingestion-id", page.Find("label").GetAttribute("for"));
        page.WaitForAssertion(() => Assert.Contains("No data has been uploaded", Text(page.Find("section[aria-labelledby=ingestions-heading]")), StringComparison.Ordinal));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public async Task The_data_section_lists_ingestions_newest_first_and_opens_one_s_report_from_the_list()
    {
        await SignInAsync("auditor", "viewer");
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/training-runs", Canned.Runs());
        Registry.Json("/api/models/card-fraud/ingestions", Canned.Ingestions(
            Canned.IngestionItem(Canned.IngestionId, 97, 2),
            Canned.IngestionItem("0190a6b2-2222-7000-8000-000000000003", 0, 0, "failed", "line 4: a ragged row")));
        Registry.Json($"/api/models/card-fraud/ingestions/{Canned.IngestionId}?offset=0&limit=50",
            Canned.Ingestion(2, $"[{Canned.Quarantined(7, "amount", "is below the minimum 0.", "range")}]"));

        var page = RenderModel("data");

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("section[aria-labelledby=ingestions-heading] tbody tr").Count));
        var rows = page.FindAll("section[aria-labelledby=ingestions-heading] tbody tr").Select(Cells).ToList();
        Assert.Equal(["0190a6b2-111…", "97", "2"], [rows[0][0], rows[0][4], rows[0][5]]);
        Assert.Equal("failed: line 4: a ragged row", rows[1][3]);
        page.FindAll("section[aria-labelledby=ingestions-heading] tbody button")[0].Click();
        page.WaitForElement("article.report");
        Assert.Equal(["97 accepted", "2 rejected", "1 duplicates"], page.FindAll("ul.counts li").Select(Text));
        Assert.Empty(Registry.Unexpected);
    }
}
