using Flywheel.Console.Display;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Tests.Display;

public sealed class LinksTests
{
    private static readonly Guid RunId = Guid.Parse("0190a6b2-7c1e-7d3a-9f00-2b4c5d6e7f80");

    [Fact]
    public void Links_name_the_console_pages_and_the_registry_download()
    {
        Assert.Equal("/models", Links.Models);
        Assert.Equal("/models/card-fraud", Links.Model("card-fraud"));
        Assert.Equal("/models/card-fraud?section=runs", Links.Model("card-fraud", ModelSections.Runs));
        Assert.Equal("/models/card-fraud/versions/3", Links.Version("card-fraud", 3));
        Assert.Equal("/runs/0190a6b2-7c1e-7d3a-9f00-2b4c5d6e7f80", Links.Run(RunId));
        Assert.Equal("/api/models/card-fraud/versions/3/artifact", Links.Artifact("card-fraud", 3));
    }

    [Fact]
    public void Model_names_are_escaped_so_a_strange_name_cannot_change_the_path() =>
        Assert.Equal("/models/a%2Fb%3Fc/versions/1", Links.Version("a/b?c", 1));

    [Theory]
    [InlineData(null, "versions")]
    [InlineData("", "versions")]
    [InlineData("runs", "runs")]
    [InlineData("DATA", "data")]
    [InlineData("deployments", "versions")]
    public void An_unknown_or_missing_section_opens_the_versions(string? query, string expected) =>
        Assert.Equal(expected, ModelSections.Parse(query));

    [Theory]
    [InlineData(0.0, 100.0, "0 to 100")]
    [InlineData(0.0, null, "≥ 0")]
    [InlineData(null, 5.5, "≤ 5.5")]
    [InlineData(null, null, "any")]
    public void A_numeric_feature_shows_its_bounds(double? min, double? max, string expected) =>
        Assert.Equal(expected, SchemaText.Domain(new FeatureView("amount", "numeric", false, min, max, null, false)));

    [Fact]
    public void A_categorical_feature_shows_its_categories() =>
        Assert.Equal("grocery, travel", SchemaText.Domain(new FeatureView("m", "categorical", true, null, null, ["grocery", "travel"], false)));
}
