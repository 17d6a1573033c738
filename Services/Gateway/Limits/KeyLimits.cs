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
        if (quotas.TryCount(key.HashHex, quota, utcNow))
        {
            return LimitDecision.Allow;
        }

        // A request the quota refuses costs the key no share of its rate: asked again (a retry, or the
        // pipeline after the fast path), it is refused for its quota again, never for its rate.
        bucket.Return();
        return new(false, LimitDecision.Quota, DailyQuota.SecondsUntilReset(utcNow));
    }

    private TokenBucket NewBucket(int rate, long now) => new(rate, Math.Max(1, rate), now, time.TimestampFrequency);
}

/// <summary>
/// What a client address may ask of the gateway without a known key: requests that no known key
/// vouches for (<see cref="GatewayOptions.AnonymousRequestsPerSecond"/>), and lookups of keys the
/// gateway has not cached (<see cref="GatewayOptions.KeyLookupsPerSecond"/>). The two are apart so
/// that neither can shut out the other: a client's anonymous traffic (console pages, probes) never
/// keeps its valid keys from being looked up, and a known key, once cached, is held to its own limits only.
/// </summary>
public sealed class AnonymousLimits(TimeProvider time, IOptions<GatewayOptions> options)
{
    public const int MaxAddresses = 10_000;

    private readonly AddressRateLimit? _requests = Limit(options.Value.AnonymousRequestsPerSecond, time);
    private readonly AddressRateLimit? _lookups = Limit(options.Value.KeyLookupsPerSecond, time);

    public int RequestsPerSecond => _requests?.RequestsPerSecond ?? 0;

    public int LookupsPerSecond => _lookups?.RequestsPerSecond ?? 0;

    /// <summary>The name the request's client is limited under.</summary>
    public static string AddressOf(HttpContext context) => ClientAddress.LimitKey(context.Connection.RemoteIpAddress);

    /// <summary>Counts a request no known key vouches for against the client's rate.</summary>
    public LimitDecision CheckRequest(string address) => Take(_requests, address);

    /// <summary>Counts a lookup of an uncached key against the client's rate, before the lookup is made.</summary>
    public LimitDecision CheckLookup(string address) => Take(_lookups, address);

    private LimitDecision Take(AddressRateLimit? limit, string address) =>
        limit is null || limit.TryTake(address, time.GetTimestamp(), out var wait)
            ? LimitDecision.Allow
            : new(false, LimitDecision.Address, DailyQuota.RetryAfterSeconds(wait));

    private static AddressRateLimit? Limit(int perSecond, TimeProvider time) =>
        perSecond > 0 ? new AddressRateLimit(perSecond, MaxAddresses, time.TimestampFrequency) : null;
}
