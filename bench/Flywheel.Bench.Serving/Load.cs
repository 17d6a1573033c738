using System.Diagnostics;

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
    int ClosedErrors);

/// <summary>
/// Open-loop load (requests fired on a fixed schedule, latency counted from the scheduled start, so
/// a stalled server cannot hide its queueing: no coordinated omission) and closed-loop load (N
/// clients each sending as soon as their previous answer arrives: saturation throughput).
/// </summary>
public static class Load
{
    public static async Task<(double P50, double P99, int Errors)> OpenLoopAsync(Func<int, Task<bool>> call, double rate, TimeSpan duration)
    {
        var count = (int)(rate * duration.TotalSeconds);
        var latencies = new double[count];
        var errors = 0;
        var pending = new Task[count];
        var clock = Stopwatch.StartNew();
        var interval = Stopwatch.Frequency / rate;
        for (var i = 0; i < count; i++)
        {
            var due = (long)(i * interval);
            while (clock.ElapsedTicks < due)
            {
                var wait = (due - clock.ElapsedTicks) * 1000.0 / Stopwatch.Frequency;
                if (wait > 2)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait - 1));
                }
                else
                {
                    Thread.SpinWait(20);
                }
            }

            var index = i;
            pending[i] = Task.Run(async () =>
            {
                bool ok;
                try
                {
                    ok = await call(index);
                }
                catch (Exception)
                {
                    ok = false;
                }

                latencies[index] = (clock.ElapsedTicks - due) * 1000.0 / Stopwatch.Frequency;
                if (!ok)
                {
                    Interlocked.Increment(ref errors);
                }
            });
        }

        await Task.WhenAll(pending);
        Array.Sort(latencies);
        return (Percentile(latencies, 0.50), Percentile(latencies, 0.99), errors);
    }

    public static async Task<(double Rps, double P50, double P99, int Errors)> ClosedLoopAsync(Func<int, Task<bool>> call, int clients, TimeSpan duration)
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
                catch (Exception)
                {
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
        return (all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
