using System.Diagnostics;
using System.Globalization;

namespace Flywheel.Bench.Serving;

/// <summary>
/// Waits until the machine is quiet before a scenario is measured. After setup (two models
/// trained and deployed) and after a saturation phase (hundreds of thousands of prediction rows
/// to store, then PostgreSQL's autovacuum over them) the platform keeps the two cores busy for a
/// while; a scenario measured in that time reports the platform's background work as its own
/// latency. Reads the whole machine's busy time from <c>/proc/stat</c>.
/// </summary>
public static class Settle
{
    /// <summary>Waits until the machine was less than <paramref name="busyFraction"/> busy over one second, for at most <paramref name="limit"/>.</summary>
    /// <returns>How long it waited and how busy the last second was.</returns>
    public static async Task<(TimeSpan Waited, double Busy)> UntilQuietAsync(double busyFraction, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (busy0, all0) = Read();
            await Task.Delay(TimeSpan.FromSeconds(1));
            var (busy1, all1) = Read();
            var busy = all1 == all0 ? 0 : (double)(busy1 - busy0) / (all1 - all0);
            if (busy < busyFraction || clock.Elapsed >= limit)
            {
                return (clock.Elapsed, busy);
            }
        }
    }

    /// <summary>Busy and total jiffies of all cores: user, nice, system, irq, softirq and steal are busy; idle and iowait are not.</summary>
    private static (long Busy, long All) Read()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + fields[4];
        var all = fields.Take(8).Sum();
        return (all - idle, all);
    }
}
