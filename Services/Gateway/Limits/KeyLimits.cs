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
