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
    public void When_every_tracked_address_is_busy_the_least_recently_used_half_goes_and_the_limited_clients_sending_now_stay_limited()
    {
        var limit = new AddressRateLimit(requestsPerSecond: 1, maxAddresses: 4, ticksPerSecond: Second);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(limit.TryTake($"a-{i}", i, out _));
        }

        // a-3 is the one sending now: refused, and still refused once the table has made room.
        Assert.False(limit.TryTake("a-3", 10, out _));
        Assert.True(limit.TryTake("new", 11, out _));
        Assert.Equal(3, limit.Tracked);
        Assert.False(limit.TryTake("a-3", 12, out _));
        Assert.False(limit.TryTake("new", 13, out _));

        // a-0 and a-1 were used least recently and were forgotten: they start afresh.
        Assert.True(limit.TryTake("a-0", 14, out _));
    }

    [Fact]
    public void However_many_addresses_come_the_table_never_holds_more_than_its_most()
    {
        var limit = new AddressRateLimit(requestsPerSecond: 1, maxAddresses: 100, ticksPerSecond: Second);
        for (var i = 0; i < 10_000; i++)
        {
            Assert.True(limit.TryTake($"a-{i}", i, out _));
            Assert.InRange(limit.Tracked, 1, 100);
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void A_rate_or_size_below_one_is_refused(int rate, int addresses) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AddressRateLimit(rate, addresses, Second));
}
