using System.Net;
using Bunit;
using Flywheel.Console.Components.Serving;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class DeploymentSectionTests : ConsoleTest
{
    [Fact]
    public void The_current_traffic_and_the_history_newest_first_are_shown()
    {
        Registry.Json("/api/models/card-fraud/deployment", CannedServing.Deployment);
        Registry.Json("/api/models/card-fraud/deployment/history", CannedServing.History);

        var section = Render<DeploymentSection>(p => p.Add(x => x.ModelName, "card-fraud"));

        section.WaitForElement("dl.traffic");
        var facts = section.FindAll("dl.traffic dd").Select(Text).ToList();
        Assert.Equal("v1", facts[0]);
        Assert.Equal("v2 on 50% of traffic", facts[1]);
        Assert.Equal("none", facts[2]);
        Assert.Equal("card_id", facts[3]);
        Assert.Equal("4, 2026-01-04 10:00:00 UTC by orchestrator: Canary of v2", facts[4]);
        var rows = section.FindAll("section[aria-labelledby=history-heading] tbody tr").Select(Cells).ToList();
        Assert.Equal(["4", "2026-01-04 10:00:00 UTC", "orchestrator", "deploy", "Canary of v2"], rows[0]);
        Assert.Equal(["3", "2026-01-03 10:00:00 UTC", "alice", "deploy", "—"], rows[1]);
    }

    [Fact]
    public void A_model_never_deployed_says_so_instead_of_an_error()
    {
        Registry.Problem("/api/models/card-fraud/deployment", HttpStatusCode.NotFound, "Deployment not found", "Model 'card-fraud' is not deployed.");
        Registry.Json("/api/models/card-fraud/deployment/history", """{ "model": "card-fraud", "history": [] }""");

        var section = Render<DeploymentSection>(p => p.Add(x => x.ModelName, "card-fraud"));

        section.WaitForAssertion(() => Assert.Contains("Not deployed", Text(section.Find("section[aria-labelledby=deployment-heading]")), StringComparison.Ordinal));
        Assert.Empty(section.FindAll("[role=alert]"));
        Assert.Equal("No traffic changes yet.", Text(section.Find("section[aria-labelledby=history-heading] .empty")));
    }
}
