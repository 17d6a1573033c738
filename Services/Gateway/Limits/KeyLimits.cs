using System.Collections.Concurrent;
using Flywheel.Core.Serving;
using Flywheel.Security;
using Microsoft.Extensions.Options;

namespace Flywheel.Gateway.Limits;

/// <summary>Why a request was refused, and when the caller may try again.</summary>
public readonly record struct LimitDecision(bool Allowed, string? Limit, int RetryAfterSeconds)
{
    public const string Rate = "rate";
    public const string Quota = "quota";

    /// <summary>The per-address rate of requests no known key vouches for.</summary>
    public const string Address = "address";

    public static LimitDecision Allow { get; } = new(true, null, 0);
}

/// <summary>
/// Per-key limits: <c>requests_per_second</c> as an in-memory token bucket per gateway replica
/// (so N replicas admit up to N times the rate; Redis stays off the hot path), then the
/// <c>daily_quota</c> through <see cref="QuotaCounter"/>. A refused request does not count
/// against the quota.
/// </summary>
public sealed class KeyLimits(QuotaCounter quotas, TimeProvider time, IOptions<GatewayOptions> options)
{
    private readonly ConcurrentDictionary<Guid, TokenBucket> _buckets = new();
    private readonly GatewayOptions _options = options.Value;

    public LimitDecision Check(CallerKey key)
    {
        var rate = key.RequestsPerSecond ?? _options.DefaultRequestsPerSecond;
        var now = time.GetTimestamp();
        var bucket = _buckets.AddOrUpdate(
            key.Id,
            _ => NewBucket(rate, now),
            // The key's rate changed in the registry: start afresh at the new rate.
            (_, existing) => existing.RatePerSecond == rate ? existing : NewBucket(rate, now));
        if (!bucket.TryTake(now, out var wait))
        {
            return new(false, LimitDecision.Rate, DailyQuota.RetryAfterSeconds(wait));
        }

        var quota = key.DailyQuota ?? _options.DefaultDailyQuota;
        var utcNow = time.GetUtcNow();
        return quotas.TryCount(key.HashHex, quota, utcNow)
            ? LimitDecision.Allow
            : new(false, LimitDecision.Quota, DailyQuota.SecondsUntilReset(utcNow));
    }

    private TokenBucket NewBucket(int rate, long now) => new(rate, Math.Max(1, rate), now, time.TimestampFrequency);
}

/// <summary>
/// The limit on requests that no known key vouches for, per client address
/// (<see cref="GatewayOptions.AnonymousRequestsPerSecond"/>).
/// </summary>
public sealed class AnonymousLimits(TimeProvider time, IOptions<GatewayOptions> options)
{
    public const int MaxAddresses = 10_000;

    private readonly AddressRateLimit? _limit = options.Value.AnonymousRequestsPerSecond > 0
        ? new AddressRateLimit(options.Value.AnonymousRequestsPerSecond, MaxAddresses, time.TimestampFrequency)
        : null;

    public int RequestsPerSecond => _limit?.RequestsPerSecond ?? 0;

    /// <summary>The name the request's client is limited under.</summary>
    public static string AddressOf(HttpContext context) => ClientAddress.LimitKey(context.Connection.RemoteIpAddress);

    /// <summary>Whether the client may still send an anonymous request, without counting one.</summary>
    public LimitDecision Peek(string address) =>
        _limit is null || _limit.HasToken(address, time.GetTimestamp(), out var wait)
            ? LimitDecision.Allow
            : new(false, LimitDecision.Address, DailyQuota.RetryAfterSeconds(wait));

    /// <summary>Counts an anonymous request against the client's rate.</summary>
    public LimitDecision Check(string address) =>
        _limit is null || _limit.TryTake(address, time.GetTimestamp(), out var wait)
            ? LimitDecision.Allow
            : new(false, LimitDecision.Address, DailyQuota.RetryAfterSeconds(wait));
}
