using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class RateLimitTests
{
    private const long Second = 1_000_000;

    [Fact]
    public void A_full_bucket_allows_its_capacity_at_once_then_refuses_with_the_wait_for_one_token()
    {
        var bucket = new TokenBucket(ratePerSecond: 5, capacity: 5, now: 0, ticksPerSecond: Second);

        Assert.All(Enumerable.Range(0, 5), i => Assert.True(bucket.TryTake(0, out _)));
        Assert.False(bucket.TryTake(0, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(0.2), wait);
    }

    [Fact]
    public void A_bucket_is_full_only_once_it_has_refilled_to_its_capacity()
    {
        var bucket = new TokenBucket(ratePerSecond: 2, capacity: 2, now: 0, ticksPerSecond: Second);
        Assert.True(bucket.IsFull(0));

        Assert.True(bucket.TryTake(0, out _));
        Assert.False(bucket.IsFull(0));
        Assert.True(bucket.TryTake(0, out _));

        Assert.False(bucket.IsFull(Second / 2));
        Assert.True(bucket.IsFull(Second));
        Assert.Equal(2, Enumerable.Range(0, 5).Count(i => bucket.TryTake(Second, out _)));
    }

    [Fact]
    public void Tokens_come_back_at_the_rate_and_never_beyond_the_capacity()
    {
        var bucket = new TokenBucket(ratePerSecond: 10, capacity: 10, now: 0, ticksPerSecond: Second);
        for (var i = 0; i < 10; i++)
        {
            bucket.TryTake(0, out _);
        }

        // 0.35 s later: 3.5 tokens, so 3 requests pass and the 4th waits 0.05 s.
        var now = (long)(0.35 * Second);
        Assert.All(Enumerable.Range(0, 3), i => Assert.True(bucket.TryTake(now, out _)));
        Assert.False(bucket.TryTake(now, out var wait));
        Assert.Equal(0.05, wait.TotalSeconds, 1e-9);

        // An hour idle refills to the capacity, not to 36,000.
        var later = 3_600 * Second;
        Assert.Equal(10, Enumerable.Range(0, 20).Count(i => bucket.TryTake(later, out _)));
    }

    [Fact]
    public void Over_a_long_run_the_bucket_admits_the_rate_plus_one_burst()
    {
        var bucket = new TokenBucket(ratePerSecond: 50, capacity: 50, now: 0, ticksPerSecond: Second);
        var admitted = 0;
        // A request every millisecond for 10 s: 10,000 attempts.
        for (long t = 0; t < 10 * Second; t += Second / 1_000)
        {
            admitted += bucket.TryTake(t, out _) ? 1 : 0;
        }

        Assert.InRange(admitted, 549, 551);
    }

    [Fact]
    public void A_returned_token_can_be_taken_again_and_never_raises_the_bucket_beyond_its_capacity()
    {
        var bucket = new TokenBucket(ratePerSecond: 1, capacity: 2, now: 0, ticksPerSecond: Second);
        Assert.True(bucket.TryTake(0, out _));
        Assert.True(bucket.TryTake(0, out _));
        Assert.False(bucket.TryTake(0, out _));

        bucket.Return();
        Assert.True(bucket.TryTake(0, out _));
        Assert.False(bucket.TryTake(0, out _));

        bucket.Return();
        bucket.Return();
        bucket.Return();
        Assert.True(bucket.IsFull(0));
        Assert.True(bucket.TryTake(0, out _));
        Assert.True(bucket.TryTake(0, out _));
        Assert.False(bucket.TryTake(0, out _));
    }

    [Fact]
    public void A_clock_that_goes_backwards_adds_no_tokens()
    {
        var bucket = new TokenBucket(ratePerSecond: 1, capacity: 1, now: 10 * Second, ticksPerSecond: Second);
        Assert.True(bucket.TryTake(10 * Second, out _));
        Assert.False(bucket.TryTake(5 * Second, out _));
        Assert.False(bucket.TryTake(10 * Second, out _));
    }

    [Fact]
    public void Concurrent_callers_never_take_more_than_the_capacity()
    {
        var bucket = new TokenBucket(ratePerSecond: 1, capacity: 100, now: 0, ticksPerSecond: Second);
        var taken = 0;
        Parallel.For(0, 1_000, i =>
        {
            if (bucket.TryTake(0, out _))
            {
                Interlocked.Increment(ref taken);
            }
        });

        Assert.Equal(100, taken);
    }

    [Fact]
    public void Quotas_count_per_utc_day_and_reset_at_utc_midnight()
    {
        var late = new DateTimeOffset(2026, 3, 1, 23, 59, 30, TimeSpan.FromHours(-5)); // 2026-03-02 04:59:30 UTC
        Assert.Equal("20260302", DailyQuota.Day(late));
        Assert.Equal("flywheel:quota:ab12:20260302", DailyQuota.CounterKey("ab12", late));
        Assert.Equal((19 * 3600) + 30, DailyQuota.SecondsUntilReset(late));
        Assert.Equal(1, DailyQuota.SecondsUntilReset(new DateTimeOffset(2026, 3, 2, 23, 59, 59, 999, TimeSpan.Zero)));
        Assert.Equal(86_400, DailyQuota.SecondsUntilReset(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero)));
    }

    [Theory]
    [InlineData(0.0, 1)]
    [InlineData(0.001, 1)]
    [InlineData(1.0, 1)]
    [InlineData(1.2, 2)]
    public void Retry_after_is_whole_seconds_rounded_up_and_never_zero(double seconds, int expected) =>
        Assert.Equal(expected, DailyQuota.RetryAfterSeconds(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void The_key_hash_matches_the_stored_sha256_and_its_hex_the_notification_payload()
    {
        var hash = ApiKeyHash.Compute("abc");
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ApiKeyHash.Hex(hash));
    }
}
