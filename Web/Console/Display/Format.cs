using System.Globalization;
using System.Text.Json;

namespace Flywheel.Console.Display;

/// <summary>
/// How the console writes numbers, times and sizes: invariant culture, times in UTC (the console
/// renders on the server, whose time zone means nothing to the reader).
/// </summary>
public static class Format
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Timestamp(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Invariant) + " UTC";

    public static string Timestamp(DateTimeOffset? at) => at is { } value ? Timestamp(value) : "—";

    /// <summary>The machine-readable form for a <c>&lt;time datetime&gt;</c> attribute.</summary>
    public static string IsoTimestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Invariant);

    /// <summary>Short enough to scan in a table: "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 04 h". Negative spans read as zero.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            span = TimeSpan.Zero;
        }

        return span.TotalSeconds switch
        {
            < 1 => string.Create(Invariant, $"{(int)span.TotalMilliseconds} ms"),
            < 60 => string.Create(Invariant, $"{Math.Floor(span.TotalSeconds * 10) / 10:0.0} s"),
            < 3600 => string.Create(Invariant, $"{(int)span.TotalMinutes} min {span.Seconds:00} s"),
            < 48 * 3600 => string.Create(Invariant, $"{(int)span.TotalHours} h {span.Minutes:00} min"),
            _ => string.Create(Invariant, $"{(int)span.TotalDays} d {span.Hours:00} h"),
        };
    }

    public static string Duration(TimeSpan? span) => span is { } value ? Duration(value) : "—";

    /// <summary>Binary units, as artifact sizes are usually read: "512 B", "1.5 KiB", "20.0 MiB".</summary>
    public static string Bytes(long bytes)
    {
        if (bytes < 1024)
        {
            return string.Create(Invariant, $"{bytes} B");
        }

        string[] units = ["KiB", "MiB", "GiB", "TiB"];
        var value = bytes / 1024.0;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(Invariant, $"{value:0.0} {units[unit]}");
    }

    /// <summary>
    /// A metric or statistic: whole numbers with thousands separators, values of 1 or more to four
    /// decimals, smaller ones to four significant digits; NaN and infinities as "n/a".
    /// </summary>
    public static string Number(double value)
    {
        if (!double.IsFinite(value))
        {
            return "n/a";
        }

        if (value == Math.Floor(value) && Math.Abs(value) < 1e15)
        {
            return value.ToString("#,##0", Invariant);
        }

        return Math.Abs(value) >= 1 ? value.ToString("#,##0.####", Invariant) : value.ToString("G4", Invariant);
    }

    public static string Number(double? value) => value is { } number ? Number(number) : "—";

    /// <summary>A change, always signed: "+0.0123", "−2". Uses the minus sign, not a hyphen, so it reads as one.</summary>
    public static string Signed(double delta) => !double.IsFinite(delta) ? "n/a"
        : delta > 0 ? "+" + Number(delta)
        : delta < 0 ? "\u2212" + Number(-delta)
        : "0";

    public static string Count(long count) => count.ToString("#,##0", Invariant);

    /// <summary>"1 model", "1,200 models": English plurals with a trailing s.</summary>
    public static string Plural(long count, string noun) => $"{Count(count)} {noun}{(count == 1 ? "" : "s")}";

    /// <summary>A rate in [0, 1] as a percentage with up to two decimals: "12.5%", "0.04%".</summary>
    public static string Percent(double rate) =>
        double.IsFinite(rate) ? (rate * 100).ToString("0.##", Invariant) + "%" : "n/a";

    /// <summary>The first 12 hex digits, enough to tell hashes apart on screen; the full hash goes in a title.</summary>
    public static string ShortHash(string? sha256) => sha256 switch
    {
        null or "" => "—",
        { Length: <= 12 } => sha256,
        _ => sha256[..12] + "…",
    };

    /// <summary>Hyperparameters by name: "learning_rate=0.1, num_leaves=31"; "defaults" when none.</summary>
    public static string Hyperparameters(IReadOnlyDictionary<string, double>? hyperparameters) =>
        hyperparameters is null or { Count: 0 }
            ? "defaults"
            : string.Join(", ", hyperparameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={Number(p.Value)}"));

    /// <summary>A logged JSON value as text: a string without its quotes, null as "—", anything else as written.</summary>
    public static string JsonValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "—",
        _ => value.GetRawText(),
    };

    /// <summary>"log_loss" → "Log loss": for names the console has no label for.</summary>
    public static string Humanize(string name)
    {
        var words = name.Replace('_', ' ').Replace('-', ' ').Trim();
        return words.Length == 0 ? name : char.ToUpperInvariant(words[0]) + words[1..];
    }
}
