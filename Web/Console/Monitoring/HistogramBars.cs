using Flywheel.Console.Platform;

namespace Flywheel.Console.Monitoring;

/// <summary>One bin of a reference-vs-current chart: the shares and the bar heights they scale to.</summary>
public sealed record HistogramBar(string Bin, double Reference, double Current, double ReferenceHeight, double CurrentHeight);

/// <summary>
/// Scales a drift histogram's two sides to bars on one axis: the largest share of either side is
/// the full height, so the two are compared on the same scale and a small histogram still fills
/// the chart. Missing or non-finite shares count as 0; bins beyond the shorter side's end too.
/// </summary>
public static class HistogramBars
{
    public static IReadOnlyList<HistogramBar> Scale(HistogramView? histogram, double height)
    {
        if (histogram is null || histogram.Bins.Count == 0 || height <= 0)
        {
            return [];
        }

        var reference = histogram.Bins.Select((_, i) => Share(histogram.Reference, i)).ToList();
        var current = histogram.Bins.Select((_, i) => Share(histogram.Current, i)).ToList();
        var max = Math.Max(reference.DefaultIfEmpty(0).Max(), current.DefaultIfEmpty(0).Max());
        return [.. histogram.Bins.Select((bin, i) => new HistogramBar(
            bin, reference[i], current[i],
            max > 0 ? reference[i] / max * height : 0,
            max > 0 ? current[i] / max * height : 0))];
    }

    private static double Share(IReadOnlyList<double> shares, int index) =>
        index < shares.Count && double.IsFinite(shares[index]) && shares[index] > 0 ? shares[index] : 0;
}
