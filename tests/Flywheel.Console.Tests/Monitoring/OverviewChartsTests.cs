using Flywheel.Console.Monitoring;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Tests.Monitoring;

public sealed class OverviewChartsTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 4, 10, 30, 0, TimeSpan.Zero);

    private static List<MinutePointView> Series(params (long Requests, double? P95)[] minutes) =>
        [.. minutes.Select((m, i) => new MinutePointView(Start.AddMinutes(i), m.Requests, 0, m.P95))];

    [Fact]
    public void Requests_chart_has_a_bar_per_minute_quiet_ones_included_labelled_by_utc_time()
    {
        var points = OverviewCharts.RequestsPerMinute(Series((3, 2.5), (0, null), (25, 4.0)));

        Assert.Equal(["10:30", "10:31", "10:32"], points.Select(p => p.Label));
        Assert.Equal([3.0, 0, 25], points.Select(p => p.Value));
        Assert.Equal("peak 25 at 10:32, latest 25 at 10:32", OverviewCharts.Summary(points));
    }

    [Fact]
    public void Latency_chart_leaves_out_minutes_without_answers_rather_than_drawing_zero()
    {
        var points = OverviewCharts.P95PerMinute(Series((3, 2.5), (0, null), (25, 4.25), (1, double.NaN)));

        Assert.Equal(["10:30", "10:32"], points.Select(p => p.Label));
        Assert.Equal("peak 4.25 ms at 10:32, latest 4.25 ms at 10:32", OverviewCharts.Summary(points, " ms"));
        Assert.Equal("no data", OverviewCharts.Summary([], " ms"));
    }

    [Fact]
    public void The_split_names_production_canary_and_shadow_with_their_shares()
    {
        var at = DateTimeOffset.UnixEpoch;
        Assert.Equal("not deployed", OverviewCharts.Split(null));
        Assert.Equal("v3 100%", OverviewCharts.Split(new DeploymentSplitView(1, 3, 100, null, null, at)));
        Assert.Equal("v3 87.5% · canary v4 12.5% · shadow v5 25%",
            OverviewCharts.Split(new DeploymentSplitView(2, 3, 87.5, new VersionShareView(4, 12.5), new VersionShareView(5, 25), at)));
    }

    [Theory]
    [InlineData(0, "0/s")]
    [InlineData(40.0 / 300, "0.13/s")]
    [InlineData(1234.4, "1,234/s")]
    [InlineData(double.NaN, "0/s")]
    public void Rates_read_per_second(double perSecond, string expected) => Assert.Equal(expected, OverviewCharts.Rate(perSecond));

    [Fact]
    public void Latencies_read_in_milliseconds_and_none_is_a_dash()
    {
        Assert.Equal("3.4 ms", OverviewCharts.Milliseconds(3.4321));
        Assert.Equal("250 ms", OverviewCharts.Milliseconds(250.4));
        Assert.Equal("—", OverviewCharts.Milliseconds(null));
    }
}
