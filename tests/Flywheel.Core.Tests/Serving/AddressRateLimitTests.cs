using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class AddressRateLimitTests
{
    private const long Second = 1_000_000;

    [Fact]
    public void Each_address_gets_a_burst_of_one_seconds_worth_then_the_rate_and_others_are_unaffected()
    {
        var limit = new AddressRateLimit(requestsPerSecond: 4, maxAddresses: 100, ticksPerSecond: Second);

        Assert.Equal(4, Enumerable.Range(0, 10).Count(i => limit.TryTake("a", 0, out _)));
        Assert.False(limit.TryTake("a", 0, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(0.25), wait);
        Assert.True(limit.TryTake("b", 0, out _));

        // Half a second later: two more for "a".
        Assert.Equal(2, Enumerable.Range(0, 10).Count(i => limit.TryTake("a", Second / 2, out _)));
    }

    [Fact]
    public void Peeking_counts_nothing_and_says_the_wait()
    {
        var limit = new AddressRateLimit(requestsPerSecond: 2, maxAddresses: 100, ticksPerSecond: Second);

        // An address never seen has room, and peeking does not start tracking it.
        Assert.True(limit.HasToken("a", 0, out var none));
        Assert.Equal(TimeSpan.Zero, none);
        Assert.Equal(0, limit.Tracked);

        Assert.True(limit.TryTake("a", 0, out _));
        for (var i = 0; i < 5; i++)
        {
            Assert.True(limit.HasToken("a", 0, out _));
        }

        Assert.True(limit.TryTake("a", 0, out _));
        Assert.False(limit.HasToken("a", 0, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(0.5), wait);
    }

    [Fact]
    public void Past_the_most_addresses_the_quiet_ones_are_forgotten_and_the_busy_ones_kept()
    {
        var limit = new AddressRateLimit(requestsPerSecond: 1, maxAddresses: 3, ticksPerSecond: Second);
        Assert.True(limit.TryTake("quiet-1", 0, out _));
        Assert.True(limit.TryTake("quiet-2", 0, out _));
        Assert.True(limit.TryTake("busy", 0, out _));

        // Two seconds on the quiet ones have refilled; "busy" has just spent its token again.
        var now = 2 * Second;
        Assert.True(limit.TryTake("busy", now, out _));
        Assert.True(limit.TryTake("new", now, out _));

        Assert.Equal(2, limit.Tracked);
        Assert.False(limit.TryTake("busy", now, out _));
    }

    [Fact]
    public void When_every_tracked_address_is_busy_the_table_starts_afresh_rather_than_grow()
    {
        var limit = new AddressRateLimit(requestsPerSecond: 1, maxAddresses: 3, ticksPerSecond: Second);
        for (var i = 0; i < 10; i++)
        {
            Assert.True(limit.TryTake($"a-{i}", 0, out _));
            Assert.InRange(limit.Tracked, 1, 3);
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void A_rate_or_size_below_one_is_refused(int rate, int addresses) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AddressRateLimit(rate, addresses, Second));
}
