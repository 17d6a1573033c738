using System.Diagnostics;
using System.Globalization;

namespace Flywheel.Bench.Serving;

/// <summary>
/// CPU time of the processes that serve a scenario, found by their command lines in
/// <c>/proc</c>: for a Flywheel scenario the worker (and the gateway) plus PostgreSQL, which
/// stores every prediction; for an alternative its one server process. Read before and after the
/// saturation phase, it says what one request costs the servers, which is steadier from run to run
/// than throughput on a machine the load generator shares.
/// </summary>
public static class ServerCpu
{
    public static TimeSpan Total(IReadOnlyList<string> commandLineParts)
    {
        var total = TimeSpan.Zero;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (commandLineParts.Any(part => commandLine.Contains(part, StringComparison.Ordinal)))
                {
                    using var process = Process.GetProcessById(pid);
                    total += process.TotalProcessorTime;
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // The process ended while it was being read.
            }
        }

        return total;
    }
}
