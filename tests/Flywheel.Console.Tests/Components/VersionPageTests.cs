using System.Net;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class VersionPageTests : ConsoleTest
{
    private const string V1 = """{ "auc": 0.9, "log_loss": 0.31, "accuracy": 0.88, "rows": 200 }""";
    private const string V2 = """{ "auc": 0.92, "log_loss": 0.33, "accuracy": 0.88, "rows": 200, "brier": 0.1 }""";

    private IRenderedComponent<VersionPage> RenderVersion(int version) =>
        Render<VersionPage>(p => p.Add(x => x.Name, "card-fraud").Add(x => x.Version, version));

    private static List<string> MetricRow(IRenderedComponent<VersionPage> page, string key) => Cells(page.Find($"tr[data-metric={key}]"));

    [Fact]
    public void A_version_shows_its_metrics_beside_the_previous_version_with_the_change_and_its_verdict()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/versions/2", Canned.Version(2, V2, parent: 1, withProfile: true));
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions(Canned.Version(2, V2, parent: 1), Canned.Version(1, V1)));

        var page = RenderVersion(2);

        page.WaitForAssertion(() => Assert.NotEmpty(page.FindAll("tr[data-metric]")));
        Assert.Equal(["Metric", "v2", "v1", "Change"], page.FindAll(".metrics thead th").Select(Text));
        Assert.Equal(["auc", "log_loss", "accuracy", "brier", "rows"], page.FindAll("tr[data-metric]").Select(tr => tr.GetAttribute("data-metric")));
        Assert.Equal(["AUC", "0.92", "0.9", "+0.02 better"], (MetricRow(page, "auc")));
        Assert.Equal(["Log loss", "0.33", "0.31", "+0.02 worse"], (MetricRow(page, "log_loss")));
        Assert.Equal(["Accuracy", "0.88", "0.88", "0 unchanged"], (MetricRow(page, "accuracy")));
        Assert.Equal(["Brier score", "0.1", "—", "new"], (MetricRow(page, "brier")));
        Assert.Contains("change-better", page.Find("tr[data-metric=auc] .delta").ClassName, StringComparison.Ordinal);
        Assert.Contains("change-worse", page.Find("tr[data-metric=log_loss] .delta").ClassName, StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_shows_where_it_came_from_and_how_to_download_it()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/versions/2", Canned.Version(2, V2, parent: 1, withProfile: true));
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions(Canned.Version(2, V2, parent: 1), Canned.Version(1, V1)));

        var page = RenderVersion(2);

        page.WaitForElement("section[aria-labelledby=lineage-heading]");
        var lineage = Facts(page, "lineage-heading");
        Assert.Equal(Canned.RunId, lineage["Training run"]);
        Assert.Equal(Canned.SnapshotId, lineage["Snapshot"]);
        Assert.Equal("5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed", lineage["Snapshot SHA-256"]);
        Assert.Equal("1,000", lineage["Rows"]);
        Assert.Equal("stratified: 800 training, 200 held out", lineage["Split"]);
        Assert.Equal("lightgbm", lineage["Trainer"]);
        Assert.Equal("learning_rate=0.05, num_leaves=31", lineage["Hyperparameters"]);
        Assert.Equal("42", lineage["Seed"]);
        Assert.Equal("0.1.0+abc123", lineage["Code version"]);
        Assert.Equal("v1", lineage["Parent version"]);
        Assert.Equal("manual", lineage["Trigger"]);
        Assert.Equal("/models/card-fraud/versions/1", page.Find("section[aria-labelledby=lineage-heading] a[href*=versions]").GetAttribute("href"));

        var artifact = Facts(page, "artifact-heading");
        Assert.Equal("20.0 KiB (20,480 bytes)", artifact["Size"]);
        Assert.Equal("ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12", artifact["SHA-256"]);
        Assert.Equal("http://azurite:10000/devstoreaccount1/models/card-fraud/ab12.onnx", artifact["Stored at"]);
        Assert.Equal("/api/models/card-fraud/versions/2/artifact", page.Find("a[download]").GetAttribute("href"));
    }

    [Fact]
    public void The_reference_profile_summarises_each_feature_and_withholds_pii()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/versions/2", Canned.Version(2, V2, parent: 1, withProfile: true));
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions(Canned.Version(2, V2, parent: 1), Canned.Version(1, V1)));

        var page = RenderVersion(2);

        page.WaitForAssertion(() => Assert.Equal(3, page.FindAll("section[aria-labelledby=profile-heading] tbody tr").Count));
        var rows = page.FindAll("section[aria-labelledby=profile-heading] tbody tr")
            .Select(tr => string.Join(" | ", Cells(tr)))
            .ToList();
        Assert.Equal(
            [
                "amount | numeric | 1.25% | 1.5 | 120.25 | 9,000 | —",
                "merchant_category | categorical | 0% | — | — | — | grocery 75%travel 25%",
                "email | categorical | 0% | values not kept (PII)",
            ],
            rows);
        Assert.Equal(["grocery 75%", "travel 25%"], page.FindAll("section[aria-labelledby=profile-heading] ul.inline li").Select(Text));
    }

    [Fact]
    public void The_first_version_has_nothing_to_compare_with()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Json("/api/models/card-fraud/versions/1", Canned.Version(1, V1));
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions(Canned.Version(1, V1)));

        var page = RenderVersion(1);

        page.WaitForAssertion(() => Assert.Contains("it is the first version", Text(page.Find(".metrics caption")), StringComparison.Ordinal));
        Assert.Equal(["Metric", "v1"], page.FindAll(".metrics thead th").Select(Text));
        Assert.Equal("none (first version)", Facts(page, "lineage-heading")["Parent version"]);
        Assert.Contains("no reference profile", Text(page.Find("section[aria-labelledby=profile-heading]")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_that_does_not_exist_is_a_message_with_a_way_back()
    {
        Registry.Json("/api/models/card-fraud", Canned.Model());
        Registry.Problem("/api/models/card-fraud/versions/9", HttpStatusCode.NotFound, "Version not found", "Model 'card-fraud' has no version 9.");
        Registry.Json("/api/models/card-fraud/versions", Canned.Versions());

        var page = RenderVersion(9);

        page.WaitForAssertion(() => Assert.Contains("Model 'card-fraud' has no version 9.", Text(page.Find("[role=alert]")), StringComparison.Ordinal));
        Assert.Equal("/models/card-fraud", page.Find("[role=alert] a").GetAttribute("href"));
        Assert.Empty(page.FindAll("table"));
    }

    private static Dictionary<string, string> Facts(IRenderedComponent<VersionPage> page, string heading)
    {
        var list = page.Find($"section[aria-labelledby={heading}] dl");
        return list.QuerySelectorAll("dt").ToDictionary(dt => Text(dt), dt => Text(dt.NextElementSibling!));
    }
}
