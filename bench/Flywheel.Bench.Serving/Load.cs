using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Flywheel.Bench.Serving;

/// <summary>What one scenario measured: latencies (ms) at a fixed arrival rate, and saturation with a fixed number of clients.</summary>
public sealed record Measurement(
    string Scenario,
    double OfferedRate,
    double P50Ms,
    double P99Ms,
    int OpenErrors,
    int Clients,
    double SaturationRps,
    double SaturationP50Ms,
    double SaturationP99Ms,
    int ClosedErrors,
    double? MeanBatch = null,
    double? ServerCpuUsPerRequest = null,
    double? WorkerP50Us = null,
    double? WorkerP99Us = null,
    double? RowsPerCall = null);

/// <summary>
/// Open-loop load (requests fired on a fixed schedule, latency counted from the scheduled start, so
/// a stalled server cannot hide its queueing: no coordinated omission) and closed-loop load (N
/// clients each sending as soon as their previous answer arrives: saturation throughput).
/// </summary>
public static class Load
{
    /// <summary>The latencies (ms) of one open-loop stretch, unsorted; <paramref name="first"/> is the first request's index.</summary>
    /// <remarks>
    /// A dedicated thread sleeps until each request's due time with <c>clock_nanosleep</c> on the
    /// monotonic clock (the one <see cref="Stopwatch"/> reads on Linux: tens of µs late, and no core
    /// spent spinning, which on two cores would be taken from the servers measured) and starts
    /// the call itself, so no thread-pool hop sits between the schedule and the send.
    /// </remarks>
    public static async Task<(double[] Latencies, int Errors)> OpenLoopSamplesAsync(Func<int, Task<bool>> call, double rate, TimeSpan duration, int first)
    {
        var (latencies, errors, _) = await OpenLoopAsync(call, rate, duration, first);
        return (latencies, errors);
    }

    /// <summary>
    /// As <see cref="OpenLoopSamplesAsync"/>, and also how late the generator started each call
    /// (ms after its due time, unsorted): at high rates that says whether the load generator,
    /// not the server, was the limit.
    /// </summary>
    public static async Task<(double[] Latencies, int Errors, double[] SendLag)> OpenLoopAsync(Func<int, Task<bool>> call, double rate, TimeSpan duration, int first)
    {
        var count = (int)(rate * duration.TotalSeconds);
        var latencies = new double[count];
        var lags = new double[count];
        var errors = 0;
        var pending = new Task[count];
        var interval = Stopwatch.Frequency / rate;
        var origin = Stopwatch.GetTimestamp();

        async Task Measure(int index, long due)
        {
            lags[index] = (Stopwatch.GetTimestamp() - due) * 1000.0 / Stopwatch.Frequency;
            bool ok;
            try
            {
                ok = await call(first + index);
            }
            catch (Exception exception)
            {
                FailedCalls.Count(exception);
                ok = false;
            }

            latencies[index] = (Stopwatch.GetTimestamp() - due) * 1000.0 / Stopwatch.Frequency;
            if (!ok)
            {
                Interlocked.Increment(ref errors);
            }
        }

        var scheduler = new Thread(() =>
        {
            for (var i = 0; i < count; i++)
            {
                var due = origin + (long)(i * interval);
                SleepUntil(due);
                pending[i] = Measure(i, due);
            }
        }) { IsBackground = true, Name = "open-loop schedule", Priority = ThreadPriority.AboveNormal };
        scheduler.Start();
        await Task.Run(scheduler.Join);
        await Task.WhenAll(pending);
        return (latencies, errors, lags);
    }

    /// <summary>The p50 and p99 of latencies gathered in several stretches.</summary>
    public static (double P50, double P99) Percentiles(IEnumerable<double> latencies)
    {
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        return (Percentile(sorted, 0.50), Percentile(sorted, 0.99));
    }

    private static void SleepUntil(long timestamp)
    {
        if (Stopwatch.Frequency == 1_000_000_000 && OperatingSystem.IsLinux())
        {
            var due = new Timespec { Seconds = timestamp / 1_000_000_000, Nanoseconds = timestamp % 1_000_000_000 };
            while (ClockNanosleep(ClockMonotonic, TimerAbsolute, ref due, IntPtr.Zero) == Interrupted)
            {
            }

            return;
        }

        while (Stopwatch.GetTimestamp() < timestamp)
        {
            Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, (timestamp - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
        }
    }

    private const int ClockMonotonic = 1;
    private const int TimerAbsolute = 1;
    private const int Interrupted = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_nanosleep")]
    private static extern int ClockNanosleep(int clock, int flags, ref Timespec request, IntPtr remaining);

    public static async Task<(double Rps, double P50, double P99, int Errors, int Requests)> ClosedLoopAsync(Func<int, Task<bool>> call, int clients, TimeSpan duration)
    {
        var samples = new List<double>[clients];
        var errors = 0;
        var clock = Stopwatch.StartNew();
        var end = (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            var mine = samples[client] = new List<double>(4096);
            for (var i = client; clock.ElapsedTicks < end; i += clients)
            {
                var start = clock.ElapsedTicks;
                bool ok;
                try
                {
                    ok = await call(i);
                }
                catch (Exception exception)
                {
                    FailedCalls.Count(exception);
                    ok = false;
                }

                mine.Add((clock.ElapsedTicks - start) * 1000.0 / Stopwatch.Frequency);
                if (!ok)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var elapsed = clock.Elapsed.TotalSeconds;
        var all = samples.SelectMany(s => s).ToArray();
        Array.Sort(all);
        return (all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors, all.Length);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

/// <summary>Why calls failed, counted by reason (a status and the answer's title, or an exception's type and message), for the run's last lines.</summary>
internal static class FailedCalls
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Reasons = new(StringComparer.Ordinal);

    public static void Count(string reason) => Reasons.AddOrUpdate(reason, 1, (_, count) => count + 1);

    public static void Count(Exception exception) =>
        Count($"{exception.GetType().Name}: {exception.Message}{(exception.InnerException is { } inner ? $" ({inner.GetType().Name}: {inner.Message})" : "")}");

    public static IEnumerable<(string Reason, int Count)> All => Reasons.Select(reason => (reason.Key, reason.Value)).OrderByDescending(reason => reason.Value);
}
