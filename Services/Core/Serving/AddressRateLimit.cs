using System.Collections.Concurrent;

namespace Flywheel.Core.Serving;

/// <summary>
/// A token bucket per client address (<see cref="ClientAddress.LimitKey"/>) for requests that no
/// known API key vouches for: a burst of one second's worth, then <see cref="RequestsPerSecond"/>.
/// At most <see cref="MaxAddresses"/> are tracked; past that, addresses whose bucket has refilled
/// are forgotten (they would start full anyway), and if every one is busy the table starts
/// afresh, so many addresses cannot fill memory. Time is passed in, as for <see cref="TokenBucket"/>.
/// </summary>
public sealed class AddressRateLimit
{
    private readonly ConcurrentDictionary<string, TokenBucket> _buckets = new(StringComparer.Ordinal);
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

    /// <summary>Whether the address could send a request now, without counting one (an address not tracked could); if not, how long until it could.</summary>
    public bool HasToken(string address, long now, out TimeSpan retryAfter)
    {
        if (_buckets.TryGetValue(address, out var bucket))
        {
            return bucket.HasToken(now, out retryAfter);
        }

        retryAfter = TimeSpan.Zero;
        return true;
    }

    /// <summary>Counts a request from the address, or says how long until it may send one.</summary>
    public bool TryTake(string address, long now, out TimeSpan retryAfter)
    {
        if (!_buckets.TryGetValue(address, out var bucket))
        {
            if (_buckets.Count >= MaxAddresses)
            {
                Sweep(now);
            }

            bucket = _buckets.GetOrAdd(address, _ => new TokenBucket(RequestsPerSecond, RequestsPerSecond, now, _ticksPerSecond));
        }

        return bucket.TryTake(now, out retryAfter);
    }

    private void Sweep(long now)
    {
        foreach (var (address, bucket) in _buckets)
        {
            if (bucket.IsFull(now))
            {
                _buckets.TryRemove(address, out _);
            }
        }

        if (_buckets.Count >= MaxAddresses)
        {
            _buckets.Clear();
        }
    }
}
