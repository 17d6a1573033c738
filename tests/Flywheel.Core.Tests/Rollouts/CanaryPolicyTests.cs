using System.Text.Json;
using Flywheel.Core.Rollouts;

namespace Flywheel.Core.Tests.Rollouts;

public sealed class CanaryPolicyTests
{
    [Fact]
    public void The_default_policy_is_valid_and_has_the_documented_values()
    {
        var policy = CanaryPolicy.Default;

        Assert.Empty(policy.Validate());
        Assert.Equal(200, policy.MinRequests);
        Assert.Equal(100, policy.MinLabelled);
        Assert.Equal(0.01, policy.ErrorRateMargin);
        Assert.Equal(1.25, policy.LatencyP95Ratio);
        Assert.Equal(1.0, policy.LatencyFloorMs);
        Assert.Equal(0.0, policy.MetricMargin);
        Assert.Equal(0.05, policy.Alpha);
    }

    [Fact]
    public void Every_field_out_of_range_is_reported_by_its_snake_case_name()
    {
        var policy = new CanaryPolicy(
            MinRequests: 10, MinLabelled: 0, ErrorRateMargin: -0.1, LatencyP95Ratio: 0.9, LatencyFloorMs: double.NaN,
            MetricMargin: 1.5, Alpha: 0.7, EarlyAlpha: 0);

        var fields = policy.Validate().Select(e => e.Field);

        Assert.Equal(
            ["min_requests", "min_labelled", "error_rate_margin", "latency_p95_ratio", "latency_floor_ms", "metric_margin", "alpha", "early_alpha"],
            fields);
    }

    [Fact]
    public void Early_alpha_may_not_be_looser_than_alpha()
    {
        var error = Assert.Single((CanaryPolicy.Default with { Alpha = 0.01, EarlyAlpha = 0.02 }).Validate());

        Assert.Equal("early_alpha", error.Field);
    }

    [Fact]
    public void Missing_json_fields_take_the_defaults()
    {
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

        var policy = JsonSerializer.Deserialize<CanaryPolicy>("""{"min_requests": 500, "alpha": 0.01}""", options)!;

        Assert.Equal(CanaryPolicy.Default with { MinRequests = 500, Alpha = 0.01 }, policy);
    }
}
