using System.Security.Cryptography;
using System.Text;
using Flywheel.Core.Snapshots;

namespace Flywheel.Core.Tests.Ingestion;

public sealed class SnapshotHashTests
{
    private static readonly DateTimeOffset T = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static string Hash(params (DateTimeOffset? Time, Dictionary<string, object?> Features, object? Target)[] rows)
    {
        using var hash = new SnapshotHash();
        foreach (var (time, features, target) in rows)
        {
            hash.Add(time, features, target);
        }

        return hash.Finish();
    }

    [Fact]
    public void A_row_is_encoded_as_canonical_json()
    {
        var encoded = Encoding.UTF8.GetString(SnapshotHash.Encode(T, new Dictionary<string, object?> { ["b"] = 0.1, ["a"] = "x", ["c"] = null, ["d"] = true }, false));

        Assert.Equal("""{"event_time":"2026-01-02T03:04:05.0000000Z","features":{"a":"x","b":0.1,"c":null,"d":true},"target":false}""", encoded);
    }

    [Fact]
    public void The_hash_is_sha256_over_the_encoded_lines()
    {
        var features = new Dictionary<string, object?> { ["a"] = 1.0 };
        var expected = Convert.ToHexStringLower(SHA256.HashData([.. SnapshotHash.Encode(null, features, 2.5), .. "\n"u8.ToArray()]));

        Assert.Equal(expected, Hash((null, features, 2.5)));
    }

    [Fact]
    public void Key_order_and_time_zones_do_not_change_the_hash()
    {
        var one = Hash((T, new Dictionary<string, object?> { ["a"] = 1.0, ["b"] = "x" }, true));
        var two = Hash((T.ToOffset(TimeSpan.FromHours(5)), new Dictionary<string, object?> { ["b"] = "x", ["a"] = 1.0 }, true));

        Assert.Equal(one, two);
    }

    [Fact]
    public void Any_change_to_a_value_the_order_or_the_rows_changes_the_hash()
    {
        var a = (T, new Dictionary<string, object?> { ["a"] = 1.0 }, (object?)true);
        var b = (T, new Dictionary<string, object?> { ["a"] = 2.0 }, (object?)true);
        var baseline = Hash(a, b);

        Assert.NotEqual(baseline, Hash(b, a));
        Assert.NotEqual(baseline, Hash(a));
        Assert.NotEqual(baseline, Hash(a, b, b));
        Assert.NotEqual(baseline, Hash(a, (T, new Dictionary<string, object?> { ["a"] = 2.0000000001 }, (object?)true)));
        Assert.NotEqual(baseline, Hash(a, (T, new Dictionary<string, object?> { ["a"] = 2.0 }, (object?)false)));
        Assert.NotEqual(Hash((T, new Dictionary<string, object?> { ["a"] = "1" }, null)), Hash((T, new Dictionary<string, object?> { ["a"] = 1.0 }, null)));
    }

    [Fact]
    public void Rows_are_counted()
    {
        using var hash = new SnapshotHash();
        hash.Add(null, new Dictionary<string, object?>(), null);
        hash.Add(null, new Dictionary<string, object?>(), null);

        Assert.Equal(2, hash.Rows);
    }

    [Fact]
    public void Other_value_types_are_refused() =>
        Assert.Throws<ArgumentException>(() => SnapshotHash.Encode(null, new Dictionary<string, object?> { ["a"] = 1 }, null));
}
