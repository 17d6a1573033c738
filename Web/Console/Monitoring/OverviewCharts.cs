using System.Globalization;
using Flywheel.Console.Display;
using Flywheel.Console.Platform;

namespace Flywheel.Console.Monitoring;

/// <summary>One bar or point of a chart: its category label (a minute, a bin) and its value.</summary>
public sealed record ChartPoint(string Label, double Value);

/// <summary>
/// The overview's numbers as the charts and their text equivalents need them: per-minute points
/// labelled by UTC clock time, the split in words, and a one-sentence summary of each chart for
/// readers who cannot see it.
/// </summary>
public static class OverviewCharts
{
    /// <summary>Requests answered per minute, every minute of the series (a quiet minute is a 0 bar).</summary>
    public static IReadOnlyList<ChartPoint> RequestsPerMinute(IReadOnlyList<MinutePointView> series) =>
        [.. series.Select(point => new ChartPoint(MinuteLabel(point.Minute), point.Requests))];

    /// <summary>p95 latency per minute in ms; minutes without an answer have no latency and are left out rather than drawn as 0.</summary>
    public static IReadOnlyList<ChartPoint> P95PerMinute(IReadOnlyList<MinutePointView> series) =>
        [.. series.Where(point => point.Requests > 0 && point.P95Ms is { } p95 && double.IsFinite(p95))
            .Select(point => new ChartPoint(MinuteLabel(point.Minute), point.P95Ms!.Value))];

    /// <summary>"10:31" (UTC), the minute a point starts.</summary>
    public static string MinuteLabel(DateTimeOffset minute) => minute.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture);

    /// <summary>
    /// "peak 25 at 10:31, latest 3 at 10:59": what a chart shows, in words; "no data" for an empty one.
    /// </summary>
    public static string Summary(IReadOnlyList<ChartPoint> points, string unit = "")
    {
        if (points.Count == 0)
        {
            return "no data";
        }

        var peak = points.MaxBy(p => p.Value)!;
        return $"peak {Format.Number(Math.Round(peak.Value, 2))}{unit} at {peak.Label}, latest {Format.Number(Math.Round(points[^1].Value, 2))}{unit} at {points[^1].Label}";
    }

    /// <summary>"v3 90% · canary v4 10% · shadow v5 25%"; "not deployed" without a deployment.</summary>
    public static string Split(DeploymentSplitView? deployment)
    {
        if (deployment is null)
        {
            return "not deployed";
        }

        var parts = new List<string> { $"v{deployment.Production} {Format.Percent(deployment.ProductionPercent / 100)}" };
        if (deployment.Canary is { } canary)
        {
            parts.Add($"canary v{canary.Version} {Format.Percent(canary.Percent / 100)}");
        }

        if (deployment.Shadow is { } shadow)
        {
            parts.Add($"shadow v{shadow.Version} {Format.Percent(shadow.Percent / 100)}");
        }

        return string.Join(" · ", parts);
    }

    /// <summary>A rate per second for people: "0.13/s", "1,200/s"; "0/s" when idle.</summary>
    public static string Rate(double perSecond) =>
        perSecond <= 0 || !double.IsFinite(perSecond) ? "0/s"
        : perSecond >= 10 ? Format.Number(Math.Round(perSecond)) + "/s"
        : Format.Number(Math.Round(perSecond, 2)) + "/s";

    /// <summary>A latency in ms: "3.4 ms", "—" when nothing was answered.</summary>
    public static string Milliseconds(double? ms) => ms is { } value && double.IsFinite(value)
        ? Format.Number(value >= 100 ? Math.Round(value) : Math.Round(value, 1)) + " ms"
        : "—";
}
