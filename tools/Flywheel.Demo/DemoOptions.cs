using System.Globalization;
using Flywheel.Core.Demo;

namespace Flywheel.Demo;

/// <summary>
/// What the demo runner talks to and how fast it goes. The defaults show the whole loop (drift,
/// retraining, canary, promotion) within about five minutes on a 2-core machine.
/// </summary>
public sealed record DemoOptions
{
    public const string Usage = """
        usage: Flywheel.Demo [--gateway URL] [--admin-key KEY | --admin-key-file FILE]
                             [--drift-after DURATION] [--rate N] [--batch N] [--seed N]
          --gateway         the gateway's base URL (env FLYWHEEL_GATEWAY_URL; default: .flywheel/gateway.url, else http://127.0.0.1:8080)
          --admin-key       an admin API key (env FLYWHEEL_ADMIN_KEY)
          --admin-key-file  a file holding it (default: .flywheel/admin.key)
          --drift-after     how long live traffic stays like the history before the world changes (default 30s; 90, 90s, 2m)
          --rate            predict requests per second (default 10)
          --batch           transactions per predict request (default 5)
          --seed            the generator's seed (default 1)
        """;

    public required Uri Gateway { get; init; }

    public required string AdminKey { get; init; }

    public string Model { get; init; } = CardFraudGenerator.ModelName;

    /// <summary>Live traffic stays in regime A this long after it starts, then switches to B.</summary>
    public TimeSpan DriftAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Predict requests per second.</summary>
    public double Rate { get; init; } = 10;

    /// <summary>Transactions per predict request.</summary>
    public int Batch { get; init; } = 5;

    public int Seed { get; init; } = 1;

    /// <summary>Days of regime-A history uploaded before v1 is trained, ending <see cref="HistoryEndsAgo"/> ago.</summary>
    public int HistoryDays { get; init; } = 28;

    public int HistoryPerDay { get; init; } = 300;

    /// <summary>
    /// The history ends more than the retraining window (7 days) ago, so a retraining run learns
    /// from the live, labelled predictions (regime B's) rather than the old world.
    /// </summary>
    public TimeSpan HistoryEndsAgo { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How long after a prediction its true label comes back.</summary>
    public TimeSpan FeedbackDelay { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The share of regime-B predictions whose label comes back at all (regime A's live traffic gets none back).</summary>
    public double FeedbackShare { get; init; } = 0.9;

    /// <summary>The drift monitor's count window, and the fewest rows it evaluates.</summary>
    public int WindowRows { get; init; } = 1_500;

    public int MinimumRows { get; init; } = 1_000;

    public int EvaluationIntervalSeconds { get; init; } = 10;

    public double CanaryPercent { get; init; } = 50;

    public double BakeMinutes { get; init; } = 1;

    /// <summary>How often the runner looks at the loop's state (drift, runs, rollouts, deployment).</summary>
    public TimeSpan WatchInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Reads the command line, then the environment (<c>FLYWHEEL_GATEWAY_URL</c>,
    /// <c>FLYWHEEL_ADMIN_KEY</c>), then the files <c>./flywheel up</c> writes under
    /// <paramref name="stateDirectory"/>. Returns null with <paramref name="error"/> set when
    /// something is missing or malformed.
    /// </summary>
    public static DemoOptions? Parse(IReadOnlyList<string> args, Func<string, string?> environment, string stateDirectory, out string? error)
    {
        error = null;
        string? gateway = null, key = null, keyFile = null;
        var driftAfter = TimeSpan.FromSeconds(30);
        double rate = 10;
        int batch = 5, seed = 1;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "-h" or "--help")
            {
                error = Usage;
                return null;
            }

            if (i + 1 >= args.Count)
            {
                error = $"{name} needs a value.";
                return null;
            }

            var value = args[++i];
            switch (name)
            {
                case "--gateway":
                    gateway = value;
                    break;
                case "--admin-key":
                    key = value;
                    break;
                case "--admin-key-file":
                    keyFile = value;
                    break;
                case "--drift-after" when TryParseDuration(value, out var d):
                    driftAfter = d;
                    break;
                case "--rate" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r is > 0 and <= 1_000:
                    rate = r;
                    break;
                case "--batch" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b is >= 1 and <= 1_000:
                    batch = b;
                    break;
                case "--seed" when int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s):
                    seed = s;
                    break;
                case "--drift-after" or "--rate" or "--batch" or "--seed":
                    error = $"{name}: '{value}' is not valid (see --help).";
                    return null;
                default:
                    error = $"unknown option {name} (see --help).";
                    return null;
            }
        }

        gateway ??= environment("FLYWHEEL_GATEWAY_URL") ?? ReadFile(Path.Combine(stateDirectory, "gateway.url")) ?? "http://127.0.0.1:8080";
        if (!Uri.TryCreate(gateway.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            error = $"--gateway: '{gateway}' is not an http(s) URL.";
            return null;
        }

        key ??= keyFile is not null ? ReadFile(keyFile) : environment("FLYWHEEL_ADMIN_KEY") ?? ReadFile(Path.Combine(stateDirectory, "admin.key"));
        if (string.IsNullOrWhiteSpace(key))
        {
            error = "no admin key: pass --admin-key or --admin-key-file, set FLYWHEEL_ADMIN_KEY, or start the platform with ./flywheel up (it writes .flywheel/admin.key).";
            return null;
        }

        return new DemoOptions { Gateway = uri, AdminKey = key.Trim(), DriftAfter = driftAfter, Rate = rate, Batch = batch, Seed = seed };
    }

    /// <summary><c>90</c> and <c>90s</c> are seconds, <c>2m</c> minutes.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        var (number, unit) = text.EndsWith('m') ? (text[..^1], 60.0) : text.EndsWith('s') ? (text[..^1], 1.0) : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || value * unit > 24 * 3600)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * unit);
        return true;
    }

    private static string? ReadFile(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;
}
