using System.Diagnostics;

namespace Flywheel.Bench.Serving;

/// <summary>
/// The servers this benchmark starts as processes of their own. An unhandled exception ends the
/// run without unwinding (no <c>using</c> runs), so they are killed here as well as at the
/// normal end: a failed run leaves no server behind.
/// </summary>
internal static class Children
{
    private static readonly List<Process> Started = [];

    static Children()
    {
        AppDomain.CurrentDomain.UnhandledException += (_, _) => KillAll();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    public static Process Add(Process process)
    {
        lock (Started)
        {
            Started.Add(process);
        }

        return process;
    }

    public static void KillAll()
    {
        lock (Started)
        {
            foreach (var process in Started)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (Exception exception) when (exception is InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Already gone.
                }
            }
        }
    }
}
