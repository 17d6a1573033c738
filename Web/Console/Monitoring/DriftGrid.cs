using Flywheel.Console.Platform;

namespace Flywheel.Console.Monitoring;

public enum DriftMark
{
    /// <summary>The feature's distribution, missing rate or out-of-range rate drifted.</summary>
    Drifted,

    /// <summary>Tested, nothing drifted.</summary>
    Stable,

    /// <summary>No distribution test ran (PII, no values); only the missing rate was checked, and it held.</summary>
    Skipped,

    /// <summary>The report has no such feature (the schema changed between versions).</summary>
    Absent,
}

/// <summary>A feature's marks across the reports, in the grid's column order.</summary>
public sealed record DriftGridRow(string Feature, IReadOnlyList<DriftMark> Marks);

/// <summary>The reports as columns (newest first) and the features as rows.</summary>
public sealed record DriftGridView(IReadOnlyList<DriftReportView> Reports, IReadOnlyList<DriftGridRow> Rows);

/// <summary>
/// Drift over time: which feature drifted in which report. Rows follow the newest report's feature
/// order (the schema's), then features only older reports had.
/// </summary>
public static class DriftGrid
{
    public static DriftGridView Build(IReadOnlyList<DriftReportView> reports)
    {
        var columns = reports.OrderByDescending(r => r.CreatedAt).ToList();
        var features = columns.SelectMany(r => r.Features.Select(f => f.Name)).Distinct(StringComparer.Ordinal).ToList();
        var rows = features.Select(name => new DriftGridRow(name, [.. columns.Select(report => Mark(report.Features.FirstOrDefault(f => f.Name == name)))]));
        return new DriftGridView(columns, [.. rows]);
    }

    public static DriftMark Mark(FeatureDriftView? feature) => feature switch
    {
        null => DriftMark.Absent,
        { Drifted: true } or { MissingRateDrifted: true } or { OutOfRangeDrifted: true } => DriftMark.Drifted,
        { Test: null } => DriftMark.Skipped,
        _ => DriftMark.Stable,
    };

    public static string Label(DriftMark mark) => mark switch
    {
        DriftMark.Drifted => "drifted",
        DriftMark.Stable => "stable",
        DriftMark.Skipped => "not tested",
        _ => "not in this report",
    };

    /// <summary>A drift test's usual name: "KS", "Chi-squared", "Wasserstein", "Jensen-Shannon", "PSI".</summary>
    public static string TestLabel(string test) => test switch
    {
        "kolmogorov_smirnov" => "KS",
        "chi_squared" => "Chi-squared",
        "wasserstein" => "Wasserstein",
        "jensen_shannon" => "Jensen-Shannon",
        "psi" => "PSI",
        _ => Display.Format.Humanize(test),
    };

    /// <summary>What drifted about a feature, in words: "distribution (KS p = 0.001 &lt; 0.05), missing rate".</summary>
    public static IReadOnlyList<string> Reasons(FeatureDriftView feature)
    {
        var reasons = new List<string>();
        if (feature.Drifted)
        {
            reasons.Add("distribution");
        }

        if (feature.MissingRateDrifted)
        {
            reasons.Add("missing rate");
        }

        if (feature.OutOfRangeDrifted)
        {
            reasons.Add("out of range");
        }

        return reasons;
    }
}
