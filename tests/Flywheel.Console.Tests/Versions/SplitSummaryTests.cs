using System.Text.Json;
using Flywheel.Console.Versions;

namespace Flywheel.Console.Tests.Versions;

public sealed class SplitSummaryTests
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    [Theory]
    [InlineData("""{ "method": "stratified", "train_rows": 800, "test_rows": 200 }""")]
    [InlineData("""{ "method": "stratified", "trainRows": 800, "testRows": 200 }""")]
    [InlineData("""{ "Method": "stratified", "TrainRows": 800, "TestRows": 200 }""")]
    public void The_split_is_read_whichever_naming_the_registry_stored_it_with(string json)
    {
        var split = SplitSummary.From(Json(json));

        Assert.Equal(new SplitSummary("stratified", 800, 200), split);
        Assert.Equal("stratified: 800 training, 200 held out", split!.Describe());
    }

    [Fact]
    public void Missing_parts_of_a_split_read_as_unknown()
    {
        var split = SplitSummary.From(Json("""{ "train_rows": "many", "extra": 1 }"""));

        Assert.Equal(new SplitSummary(null, null, null), split);
        Assert.Equal("unknown method: ? training, ? held out", split!.Describe());
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("\"random\"")]
    public void A_split_that_is_not_an_object_is_no_split(string json) => Assert.Null(SplitSummary.From(Json(json)));

    [Fact]
    public void No_split_at_all_is_no_split() => Assert.Null(SplitSummary.From(null));
}
