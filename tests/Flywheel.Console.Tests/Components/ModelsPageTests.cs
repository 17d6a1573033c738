using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class ModelsPageTests : ConsoleTest
{
    [Fact]
    public void A_fresh_install_shows_no_models_yet_and_the_command_that_creates_one()
    {
        Registry.Json("/api/models", Canned.NoModels);

        var page = Render<ModelsPage>();

        page.WaitForAssertion(() => Assert.Equal("No models yet", Text(page.Find("#no-models-heading"))));
        var command = page.Find("pre code").TextContent;
        Assert.Contains("curl -X POST \"$(cat .flywheel/gateway.url)/api/models\"", command, StringComparison.Ordinal);
        Assert.Contains("Authorization: Bearer $(cat .flywheel/admin.key)", command, StringComparison.Ordinal);
        Assert.Contains("\"task\": \"binary\"", command, StringComparison.Ordinal);
        Assert.Empty(page.FindAll("table"));
    }

    [Fact]
    public void Models_are_listed_with_their_task_entity_key_feature_count_and_creation()
    {
        Registry.Json("/api/models", Canned.Models(Canned.Model("card-fraud"), Canned.Model("churn", "multiclass")));

        var page = Render<ModelsPage>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("tbody tr").Count));
        Assert.Equal("2 models", Text(page.Find("caption")));
        Assert.All(page.FindAll("thead th"), th => Assert.Equal("col", th.GetAttribute("scope")));
        var cells = Cells(page.FindAll("tbody tr")[1]);
        Assert.Equal(["churn", "multiclass", "card_id", "3", "2026-01-02 03:04:05 UTC", "admin"], cells);
        Assert.Equal("/models/churn", page.Find("tbody tr:nth-child(2) th a").GetAttribute("href"));
        Assert.Equal("row", page.Find("tbody th").GetAttribute("scope"));
    }

    [Fact]
    public void An_unreachable_control_plane_is_a_message_not_an_error_page()
    {
        Registry.Down();

        var page = Render<ModelsPage>();

        page.WaitForAssertion(() => Assert.Contains("could not be reached", Text(page.Find("[role=alert]")), StringComparison.Ordinal));
        Assert.DoesNotContain("registry.internal", page.Markup, StringComparison.Ordinal);
    }
}
