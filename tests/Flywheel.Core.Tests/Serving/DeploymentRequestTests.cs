using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class DeploymentRequestTests
{
    private static string[] Fields(DeploymentRequest request) => [.. request.Validate().Select(e => e.Field)];

    [Fact]
    public void Production_with_a_canary_a_shadow_and_entity_stickiness_is_valid()
    {
        var request = new DeploymentRequest(3, new CanaryRequest(4, 10, AutoPromote: true), new ShadowRequest(5, 100), "entity_id", "new model");

        Assert.Empty(request.Validate());
    }

    [Fact]
    public void Production_alone_is_valid()
    {
        Assert.Empty(new DeploymentRequest(1).Validate());
    }

    [Fact]
    public void A_missing_body_names_production_as_required()
    {
        var error = Assert.Single(new DeploymentRequest().Validate());

        Assert.Equal("production", error.Field);
        Assert.Contains("required", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void Production_must_be_a_version_number(int production)
    {
        Assert.Equal(["production"], Fields(new DeploymentRequest(production)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(150)]
    [InlineData(-1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_canary_percent_outside_0_to_100_exclusive_is_refused(double percent)
    {
        Assert.Equal(["canary.percent"], Fields(new DeploymentRequest(1, new CanaryRequest(2, percent))));
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(50)]
    [InlineData(99.99)]
    public void A_canary_percent_strictly_between_0_and_100_is_accepted(double percent)
    {
        Assert.Empty(new DeploymentRequest(1, new CanaryRequest(2, percent)).Validate());
    }

    [Fact]
    public void A_canary_without_a_percent_or_version_names_both()
    {
        Assert.Equal(["canary.version", "canary.percent"], Fields(new DeploymentRequest(1, new CanaryRequest(null, null))));
    }

    [Fact]
    public void A_canary_on_the_production_version_is_refused()
    {
        var error = Assert.Single(new DeploymentRequest(3, new CanaryRequest(3, 10)).Validate());

        Assert.Equal("canary.version", error.Field);
        Assert.Contains("differ from production", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100.5)]
    [InlineData(double.NaN)]
    public void A_shadow_percent_outside_0_exclusive_to_100_inclusive_is_refused(double percent)
    {
        Assert.Equal(["shadow.percent"], Fields(new DeploymentRequest(1, Shadow: new ShadowRequest(2, percent))));
    }

    [Fact]
    public void A_shadow_may_take_all_traffic_and_may_mirror_the_production_version()
    {
        Assert.Empty(new DeploymentRequest(1, Shadow: new ShadowRequest(1, 100)).Validate());
    }

    [Fact]
    public void A_shadow_without_a_version_is_refused()
    {
        Assert.Equal(["shadow.version"], Fields(new DeploymentRequest(1, Shadow: new ShadowRequest(null, 5))));
    }

    [Theory]
    [InlineData("entity_id")]
    [InlineData("header:X-User-Id")]
    [InlineData("header:x_session.id~1")]
    public void Sticky_by_accepts_the_entity_or_a_header_name(string stickyBy)
    {
        Assert.True(DeploymentRequest.IsStickyBy(stickyBy));
        Assert.Empty(new DeploymentRequest(1, StickyBy: stickyBy).Validate());
    }

    [Theory]
    [InlineData("")]
    [InlineData("entity")]
    [InlineData("Entity_Id")]
    [InlineData("header:")]
    [InlineData("header:X User")]
    [InlineData("header:X-User:Id")]
    [InlineData("header:Ünïcode")]
    [InlineData("cookie:session")]
    public void Sticky_by_refuses_anything_else(string stickyBy)
    {
        Assert.False(DeploymentRequest.IsStickyBy(stickyBy));
        Assert.Equal(["sticky_by"], Fields(new DeploymentRequest(1, StickyBy: stickyBy)));
    }

    [Fact]
    public void A_header_name_longer_than_256_characters_is_refused()
    {
        Assert.False(DeploymentRequest.IsStickyBy("header:" + new string('a', 257)));
        Assert.True(DeploymentRequest.IsStickyBy("header:" + new string('a', 256)));
    }

    [Fact]
    public void A_reason_longer_than_the_limit_is_refused()
    {
        Assert.Equal(["reason"], Fields(new DeploymentRequest(1, Reason: new string('r', DeploymentRequest.MaxReasonLength + 1))));
    }

    [Fact]
    public void Every_fault_is_reported_at_once()
    {
        var request = new DeploymentRequest(null, new CanaryRequest(2, 0), new ShadowRequest(3, 0), "nope");

        Assert.Equal(["production", "canary.percent", "shadow.percent", "sticky_by"], Fields(request));
    }

    [Fact]
    public void The_previous_production_is_the_newest_entry_serving_another_version()
    {
        // Newest first: v3 now (after a canary change on v3), before that v2, before that v1.
        Assert.Equal(2, DeploymentRequest.PreviousProduction(3, [3, 3, 2, 1]));
    }

    [Fact]
    public void After_a_rollback_the_previous_production_is_the_version_rolled_back_from()
    {
        // v1 → v2 → rollback to v1: rolling back again returns to v2.
        Assert.Equal(2, DeploymentRequest.PreviousProduction(1, [1, 2, 1]));
    }

    [Fact]
    public void A_model_that_only_ever_served_one_version_has_nothing_to_roll_back_to()
    {
        Assert.Null(DeploymentRequest.PreviousProduction(1, [1, 1]));
        Assert.Null(DeploymentRequest.PreviousProduction(1, []));
    }
}
