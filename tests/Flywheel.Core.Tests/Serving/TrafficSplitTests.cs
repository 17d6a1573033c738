using System.Text;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class TrafficSplitTests
{
    [Fact]
    public void A_sticky_key_gets_the_same_version_every_time_whatever_the_random_draw()
    {
        for (var i = 0; i < 500; i++)
        {
            var key = $"c-{i}";
            var first = TrafficSplit.Assign("fraud", 3, 4, 20, key, draw: 0.0);
            Assert.Equal(first, TrafficSplit.Assign("fraud", 3, 4, 20, key, draw: 0.999));
            Assert.Equal(first, TrafficSplit.Assign("fraud", 3, 4, 20, key, draw: 0.5));
        }
    }

    [Fact]
    public void The_bucket_is_a_fixed_value_in_0_to_100_that_does_not_depend_on_the_process()
    {
        // Fixed by the definition (SHA-256 of the length-prefixed triple): a change here re-shuffles
        // every live canary, so it must be deliberate.
        var bucket = TrafficSplit.Bucket("fraud", 4, "c-1");
        var hash = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("5:fraud|4|3:c-1"));
        var expected = (System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (100.0 / (1UL << 53));

        Assert.Equal(expected, bucket);
        Assert.InRange(bucket, 0, 100);
        Assert.True(bucket < 100);
    }

    [Fact]
    public void An_entity_only_moves_to_the_canary_as_its_percent_grows_never_back()
    {
        // The point is fixed, so raising the percent only adds entities to the canary.
        for (var i = 0; i < 1_000; i++)
        {
            var key = $"e-{i}";
            var onCanaryBefore = false;
            foreach (var percent in new[] { 1.0, 5, 10, 20, 50, 90, 99.9 })
            {
                var onCanary = TrafficSplit.Assign("m", 1, 2, percent, key, 0.5) == 2;
                Assert.True(onCanary || !onCanaryBefore, $"{key} left the canary when it grew to {percent}%");
                onCanaryBefore = onCanary;
            }
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("c-1")]
    public void Without_a_canary_or_at_zero_percent_production_serves(string? key)
    {
        Assert.Equal(3, TrafficSplit.Assign("m", 3, null, 0, key, 0.0));
        Assert.Equal(3, TrafficSplit.Assign("m", 3, 4, 0, key, 0.0));
        Assert.Equal(3, TrafficSplit.Assign("m", 3, 4, -5, key, 0.0));
        Assert.Equal(3, TrafficSplit.Assign("m", 3, 4, double.NaN, key, 0.0));
    }

    [Fact]
    public void At_one_hundred_percent_every_request_and_every_key_goes_to_the_canary()
    {
        Assert.Equal(4, TrafficSplit.Assign("m", 3, 4, 100, null, 0.0));
        Assert.Equal(4, TrafficSplit.Assign("m", 3, 4, 100, null, Math.BitDecrement(1.0)));
        Assert.Equal(4, TrafficSplit.Assign("m", 3, 4, 100, null, 1.0));
        Assert.All(Enumerable.Range(0, 2_000), i => Assert.Equal(4, TrafficSplit.Assign("m", 3, 4, 100, $"k{i}", 0)));
    }

    [Theory]
    [InlineData(0.0, 4)]
    [InlineData(0.1999, 4)]
    [InlineData(0.2, 3)]
    [InlineData(0.9999, 3)]
    public void Random_draws_below_the_percent_go_to_the_canary(double draw, int expected) =>
        Assert.Equal(expected, TrafficSplit.Assign("m", 3, 4, 20, null, draw));

    [Theory]
    [InlineData(20.0)]
    [InlineData(5.0)]
    [InlineData(50.0)]
    public void Sticky_assignment_over_many_keys_lands_within_the_binomial_bounds(double percent)
    {
        const int keys = 20_000;
        var canary = Enumerable.Range(0, keys).Count(i => TrafficSplit.Assign("fraud", 7, 8, percent, $"card-{i}", 0) == 8);

        // 99.9% two-sided normal approximation to the binomial: z = 3.29.
        var p = percent / 100;
        var sigma = Math.Sqrt(keys * p * (1 - p));
        Assert.InRange(canary, (keys * p) - (3.29 * sigma), (keys * p) + (3.29 * sigma));
    }

    [Fact]
    public void Buckets_are_spread_evenly_over_0_to_100()
    {
        var counts = new int[10];
        for (var i = 0; i < 10_000; i++)
        {
            counts[(int)(TrafficSplit.Bucket("m", 1, i.ToString(System.Globalization.CultureInfo.InvariantCulture)) / 10)]++;
        }

        // Chi-square with 9 degrees of freedom; 27.88 is its 99.9% quantile.
        var chi = counts.Sum(c => Math.Pow(c - 1_000, 2) / 1_000);
        Assert.True(chi < 27.88, $"buckets are not uniform: [{string.Join(", ", counts)}], chi-square {chi:F1}");
    }

    [Fact]
    public void A_new_canary_version_reshuffles_which_keys_get_it()
    {
        var first = Enumerable.Range(0, 5_000).Where(i => TrafficSplit.Assign("m", 1, 2, 20, $"k{i}", 0) == 2).ToHashSet();
        var second = Enumerable.Range(0, 5_000).Where(i => TrafficSplit.Assign("m", 1, 3, 20, $"k{i}", 0) == 3).ToHashSet();

        // Independent 20% samples overlap on about 4% of keys (200); the same set would overlap on 1,000.
        var overlap = first.Intersect(second).Count();
        Assert.InRange(overlap, 120, 290);
    }

    [Fact]
    public void Different_models_with_the_same_canary_version_assign_keys_independently()
    {
        var a = Enumerable.Range(0, 5_000).Select(i => TrafficSplit.Bucket("a", 2, $"k{i}"));
        var b = Enumerable.Range(0, 5_000).Select(i => TrafficSplit.Bucket("b", 2, $"k{i}"));
        Assert.True(a.Zip(b).Count(pair => pair.First == pair.Second) == 0);
        // The length prefix keeps ("ab", "c") and ("a", "bc")-style splits apart.
        Assert.NotEqual(TrafficSplit.Bucket("m", 12, "3"), TrafficSplit.Bucket("m", 1, "23"));
    }

    [Theory]
    [InlineData(100.0, 0.9999, true)]
    [InlineData(10.0, 0.0999, true)]
    [InlineData(10.0, 0.1, false)]
    [InlineData(0.0, 0.0, false)]
    public void Mirroring_takes_draws_under_its_percent(double percent, double draw, bool expected) =>
        Assert.Equal(expected, TrafficSplit.Mirror(percent, draw));

    [Theory]
    [InlineData(null, StickyKind.None, null)]
    [InlineData("", StickyKind.None, null)]
    [InlineData("entity_id", StickyKind.EntityId, null)]
    [InlineData("header:X-Session", StickyKind.Header, "X-Session")]
    [InlineData("Header:X-Session", StickyKind.Header, "X-Session")]
    [InlineData("header:", StickyKind.None, null)]
    [InlineData("header:  ", StickyKind.None, null)]
    [InlineData("cookie:x", StickyKind.None, null)]
    public void Sticky_sources_parse_from_the_deployment(string? stickyBy, StickyKind kind, string? header) =>
        Assert.Equal(new StickySource(kind, header), StickySource.Parse(stickyBy));

    [Theory]
    [InlineData("""{ "instances": [ { "amount": 1, "entity_id": "c-1" }, { "entity_id": "c-2" } ] }""", "c-1")]
    [InlineData("""{ "parameters": { "entity_id": "no" }, "instances": [ { "nested": { "entity_id": "no" }, "entity_id": 17 } ] }""", "17")]
    [InlineData("""{ "instances": [ { "amount": 1 }, { "entity_id": "c-2" } ] }""", null)]
    [InlineData("""{ "instances": [] }""", null)]
    [InlineData("""{ "instances": [ { "entity_id": null } ] }""", null)]
    [InlineData("""{ "inputs": [ { "name": "amount", "data": [1] }, { "data": [["c-9", "c-10"]], "name": "entity_id", "shape": [2] } ] }""", "c-9")]
    [InlineData("""{ "inputs": [ { "name": "amount", "data": [1] } ] }""", null)]
    [InlineData("""[ { "entity_id": "c-1" } ]""", null)]
    [InlineData("""{ "instances": [ { "entity_id": """, null)]
    [InlineData("not json", null)]
    [InlineData("", null)]
    public void The_first_instances_entity_id_is_read_from_either_protocol(string body, string? expected) =>
        Assert.Equal(expected, TrafficSplit.FirstEntityId(Encoding.UTF8.GetBytes(body)));
}
