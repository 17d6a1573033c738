using System.Collections.Concurrent;

namespace Flywheel.Core.Serving;

/// <summary>
/// A token bucket per client address (<see cref="ClientAddress.LimitKey"/>): a burst of one
/// second's worth, then <see cref="RequestsPerSecond"/>. At most <see cref="MaxAddresses"/> are
/// tracked. When the table is full, addresses whose bucket has refilled are forgotten (they would
/// start full anyway); if that frees too little, the half used least recently goes too, so many
/// addresses can neither fill memory nor reset the limits of the clients sending now, and the
/// scan runs once per many new addresses, not for each. Time is passed in, as for <see cref="TokenBucket"/>.
/// </summary>
public sealed class AddressRateLimit
{
    private readonly ConcurrentDictionary<string, Entry> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _sweep = new();
    private readonly long _ticksPerSecond;

    public AddressRateLimit(int requestsPerSecond, int maxAddresses, long ticksPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(requestsPerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxAddresses);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ticksPerSecond);
        RequestsPerSecond = requestsPerSecond;
        MaxAddresses = maxAddresses;
        _ticksPerSecond = ticksPerSecond;
    }

    public int RequestsPerSecond { get; }

    public int MaxAddresses { get; }

    /// <summary>How many addresses are tracked now.</summary>
    public int Tracked => _buckets.Count;

    /// <summary>Counts a request from the address, or says how long until it may send one.</summary>
    public bool TryTake(string address, long now, out TimeSpan retryAfter)
    {
        if (!_buckets.TryGetValue(address, out var tracked))
        {
            if (_buckets.Count >= MaxAddresses)
            {
                Sweep(now);
            }

            tracked = _buckets.GetOrAdd(address, _ => new Entry(new TokenBucket(RequestsPerSecond, RequestsPerSecond, now, _ticksPerSecond)));
        }

        Volatile.Write(ref tracked.LastUsed, now);
        return tracked.Bucket.TryTake(now, out retryAfter);
    }

    private void Sweep(long now)
    {
        lock (_sweep)
        {
            if (_buckets.Count < MaxAddresses)
            {
                return;
            }

            foreach (var (address, tracked) in _buckets)
            {
                if (tracked.Bucket.IsFull(now))
                {
                    _buckets.TryRemove(address, out _);
                }
            }

            // Too few had refilled: the least recently used half goes, so the next sweep is
            // MaxAddresses / 2 new addresses away.
            if (_buckets.Count > MaxAddresses / 2)
            {
                var oldest = _buckets.OrderBy(entry => Volatile.Read(ref entry.Value.LastUsed)).Take(_buckets.Count - (MaxAddresses / 2)).Select(entry => entry.Key).ToList();
                foreach (var address in oldest)
                {
                    _buckets.TryRemove(address, out _);
                }
            }
        }
    }

    private sealed class Entry(TokenBucket bucket)
    {
        public TokenBucket Bucket { get; } = bucket;

        public long LastUsed;
    }
}
