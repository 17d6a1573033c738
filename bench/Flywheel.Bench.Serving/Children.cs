using System.Diagnostics;

namespace Flywheel.Bench.Serving;

/// <summary>
/// The servers this benchmark starts as processes of their own. An unhandled exception ends the
/// run without unwinding (no <c>using</c> runs), so they are killed here as well as at the
/// normal end: a failed run leaves no server behind. A run killed outright (SIGKILL, a runtime
/// abort) runs none of this; for that each server reads its standard input, which only this
/// process writes, and exits when it closes (<see cref="ExitWithParent"/>, and the same in
/// <c>node/server.js</c>).
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

    /// <summary>Set in a server's environment when its standard input is the benchmark's pipe.</summary>
    public const string ParentPipeVariable = "FLYWHEEL_BENCH_PARENT_PIPE";

    /// <summary>
    /// In a server this benchmark started: ends the process once the benchmark's end of its
    /// standard input closes, which the kernel does however the benchmark ends. A server started
    /// any other way (by hand, under <c>nohup</c>) is left alone.
    /// </summary>
    public static void ExitWithParent()
    {
        if (Environment.GetEnvironmentVariable(ParentPipeVariable) != "1")
        {
            return;
        }

        var watch = new Thread(() =>
        {
            using var input = Console.OpenStandardInput();
            var buffer = new byte[64];
            while (input.Read(buffer) > 0)
            {
            }

            Environment.Exit(0);
        })
        { IsBackground = true, Name = "Benchmark watch" };
        watch.Start();
    }
}
