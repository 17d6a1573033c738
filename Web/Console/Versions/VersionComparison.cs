namespace Flywheel.Console.Versions;

public enum MetricChange
{
    /// <summary>The previous version did not report it (or there is no previous version).</summary>
    New,
    /// <summary>The previous version reported it and this one does not.</summary>
    Dropped,
    Unchanged,
    Better,
    Worse,
    /// <summary>Moved, for a metric with no better direction (a count, a threshold).</summary>
    Changed,
    /// <summary>One side is NaN or infinite.</summary>
    NotComparable,
}

public sealed record MetricComparison(string Key, string Label, double? Current, double? Previous, double? Delta, MetricChange Change);

/// <summary>A version's metrics beside its predecessor's: the change and whether it is for the better.</summary>
public static class VersionComparison
{
    public static IReadOnlyList<MetricComparison> Compare(
        string? task, IReadOnlyDictionary<string, double> current, IReadOnlyDictionary<string, double>? previous)
    {
        var keys = previous is null ? current.Keys : current.Keys.Concat(previous.Keys);
        return [.. MetricCatalog.Order(task, keys).Select(key => CompareOne(key, current, previous))];
    }

    private static MetricComparison CompareOne(string key, IReadOnlyDictionary<string, double> current, IReadOnlyDictionary<string, double>? previous)
    {
        var info = MetricCatalog.Describe(key);
        double? now = current.TryGetValue(key, out var c) ? c : null;
        double? before = previous is not null && previous.TryGetValue(key, out var p) ? p : null;
        if (now is not { } a)
        {
            return new(key, info.Label, null, before, null, MetricChange.Dropped);
        }

        if (before is not { } b)
        {
            return new(key, info.Label, a, null, null, MetricChange.New);
        }

        if (!double.IsFinite(a) || !double.IsFinite(b))
        {
            return new(key, info.Label, a, b, null, MetricChange.NotComparable);
        }

        var delta = a - b;
        var change = delta == 0 ? MetricChange.Unchanged : info.Direction switch
        {
            MetricDirection.HigherIsBetter => delta > 0 ? MetricChange.Better : MetricChange.Worse,
            MetricDirection.LowerIsBetter => delta < 0 ? MetricChange.Better : MetricChange.Worse,
            _ => MetricChange.Changed,
        };
        return new(key, info.Label, a, b, delta, change);
    }

    /// <summary>The change in words, so it never rests on colour alone.</summary>
    public static string Describe(MetricChange change) => change switch
    {
        MetricChange.New => "new",
        MetricChange.Dropped => "no longer reported",
        MetricChange.Unchanged => "unchanged",
        MetricChange.Better => "better",
        MetricChange.Worse => "worse",
        MetricChange.Changed => "changed",
        _ => "not comparable",
    };

    /// <summary>
    /// The version to compare against: the newest one older than <paramref name="version"/>.
    /// Version numbers are dense, but a listing may be filtered or cut, so the list decides.
    /// </summary>
    public static int? PreviousOf(int version, IEnumerable<int> versions) =>
        versions.Where(v => v < version).Select(v => (int?)v).Max();
}
