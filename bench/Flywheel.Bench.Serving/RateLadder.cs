using System.Globalization;

namespace Flywheel.Bench.Serving;

/// <summary>One step of a rate ladder: a fixed arrival rate held for a few seconds.</summary>
/// <param name="SendLagP99Ms">How late the load generator started its calls (p99): when this is a large part of the p99, the generator, not the server, was the limit.</param>
public sealed record Probe(double Rate, double P50Ms, double P99Ms, int Errors, double SendLagP99Ms);

/// <summary>
/// Throughput at equal p99: the highest fixed arrival rate a server sustains with its p99 within
/// a target. Saturation with a fixed number of clients gives each server its own p99 (a server
/// that queues more shows a higher throughput at a worse tail), so it cannot compare servers at
/// an equal tail; climbing the same ladder of open-loop rates against each of them can.
/// </summary>
public static class RateLadder
{
    /// <summary>
    /// Holds each rate for <paramref name="hold"/>, from <paramref name="start"/> up by
    /// <paramref name="factor"/>, until a step fails a request or its p99 exceeds
    /// <paramref name="stopAboveP99Ms"/> twice running, or the rate passes <paramref name="ceiling"/>.
    /// </summary>
    public static async Task<IReadOnlyList<Probe>> ClimbAsync(
        string name, Func<int, Task<bool>> call, double start, double factor, double ceiling, TimeSpan hold, double stopAboveP99Ms)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(factor, 1);
        var probes = new List<Probe>();
        var first = 0;
        for (var rate = start; rate <= ceiling; rate *= factor)
        {
            // A step that misses is held once more and the better try counts: on two shared cores
            // one collection or burst of new connections in a few seconds should not end the climb.
            // Every server gets the same second chance.
            var probe = await HoldAsync(name, call, rate, hold, first);
            first += (int)(rate * hold.TotalSeconds);
            if (probe.Errors > 0 || probe.P99Ms > stopAboveP99Ms)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                var again = await HoldAsync(name, call, rate, hold, first);
                first += (int)(rate * hold.TotalSeconds);
                probe = (again.Errors, again.P99Ms).CompareTo((probe.Errors, probe.P99Ms)) < 0 ? again : probe;
            }

            probes.Add(probe);
            if (probe.Errors > 0 || probe.P99Ms > stopAboveP99Ms)
            {
                break;
            }
        }

        return probes;
    }

    private static async Task<Probe> HoldAsync(string name, Func<int, Task<bool>> call, double rate, TimeSpan hold, int first)
    {
        var (latencies, errors, lags) = await Load.OpenLoopAsync(call, rate, hold, first);
        var (p50, p99) = Load.Percentiles(latencies);
        var (_, lagP99) = Load.Percentiles(lags);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name}: {rate:0} req/s → p50 {p50:0.00} ms, p99 {p99:0.00} ms, {errors} errors, generator late by {lagP99:0.00} ms (p99)"));
        return new Probe(Math.Round(rate), p50, p99, errors, lagP99);
    }

    /// <summary>
    /// The highest rate at which this step and every step below it answered everything with a p99
    /// within <paramref name="targetP99Ms"/>; null when the first step did not.
    /// </summary>
    public static Probe? HighestWithin(IReadOnlyList<Probe> probes, double targetP99Ms)
    {
        Probe? best = null;
        foreach (var probe in probes)
        {
            if (probe.Errors > 0 || probe.P99Ms > targetP99Ms)
            {
                break;
            }

            best = probe;
        }

        return best;
    }
}
