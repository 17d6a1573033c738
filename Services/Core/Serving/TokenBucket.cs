namespace Flywheel.Core.Serving;

/// <summary>
/// A token bucket: <see cref="RatePerSecond"/> tokens a second, holding at most
/// <see cref="Capacity"/> (the burst a quiet caller may spend at once). Time is passed in
/// (<see cref="TimeProvider.GetTimestamp"/> ticks) so the arithmetic is testable; safe to call
/// from many threads.
/// </summary>
public sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private readonly long _ticksPerSecond;
    private double _tokens;
    private long _last;

    public TokenBucket(double ratePerSecond, double capacity, long now, long ticksPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ticksPerSecond);
        RatePerSecond = ratePerSecond;
        Capacity = capacity;
        _ticksPerSecond = ticksPerSecond;
        _tokens = capacity;
        _last = now;
    }

    public double RatePerSecond { get; }

    public double Capacity { get; }

    /// <summary>Whether the bucket has refilled completely: its caller has been quiet for as long as a burst takes to earn.</summary>
    public bool IsFull(long now)
    {
        lock (_lock)
        {
            Refill(now);
            return _tokens >= Capacity;
        }
    }

    /// <summary>Takes one token if there is one; otherwise says how long until there will be.</summary>
    public bool TryTake(long now, out TimeSpan retryAfter)
    {
        lock (_lock)
        {
            Refill(now);
            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / RatePerSecond);
            return false;
        }
    }

    /// <summary>Gives back a token taken for a request that was then refused for another reason (never beyond the capacity).</summary>
    public void Return()
    {
        lock (_lock)
        {
            _tokens = Math.Min(Capacity, _tokens + 1);
        }
    }

    private void Refill(long now)
    {
        if (now > _last)
        {
            _tokens = Math.Min(Capacity, _tokens + ((now - _last) / (double)_ticksPerSecond * RatePerSecond));
            _last = now;
        }
    }
}

/// <summary>Per-key daily quotas count requests per UTC day.</summary>
public static class DailyQuota
{
    /// <summary>The UTC day a request counts against, as yyyyMMdd.</summary>
    public static string Day(DateTimeOffset now) => now.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The Redis counter of one key on one day.</summary>
    public static string CounterKey(string keyHashHex, DateTimeOffset now) => $"flywheel:quota:{keyHashHex}:{Day(now)}";

    /// <summary>Whole seconds until the next UTC midnight, when the quota starts again (at least 1, for Retry-After).</summary>
    public static int SecondsUntilReset(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        var midnight = utc.Date.AddDays(1);
        return Math.Max(1, (int)Math.Ceiling((midnight - utc).TotalSeconds));
    }

    /// <summary>Whole seconds for a Retry-After header: a wait rounded up, never 0.</summary>
    public static int RetryAfterSeconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
}
