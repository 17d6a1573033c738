using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

/// <summary>
/// PII categorical values reach models only as buckets: which features are bucketed, what a bucket
/// is, how values spread over them, and how a model's metadata says which of its inputs take them.
/// </summary>
public sealed class PiiBucketTests
{
    [Theory]
    [InlineData("person-1@example.com")]
    [InlineData("jos\u00e9.\u7530\u4e2d@example.org")]
    [InlineData(" padded ")]
    [InlineData("x")]
    public void A_bucket_is_the_first_four_bytes_of_the_values_sha256_modulo_the_bucket_count(string value)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(value));
        var expected = BinaryPrimitives.ReadUInt32BigEndian(hash) % FeatureValues.PiiBuckets;

        Assert.Equal($"pii-{expected:D4}", FeatureValues.PiiBucket(value));
    }

    [Fact]
    public void A_long_value_is_bucketed_like_a_short_one()
    {
        var value = new string('\u7530', 5_000);
        var expected = BinaryPrimitives.ReadUInt32BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(value))) % FeatureValues.PiiBuckets;

        Assert.Equal($"pii-{expected:D4}", FeatureValues.PiiBucket(value));
    }

    [Fact]
    public void Values_spread_over_the_buckets_and_none_is_kept()
    {
        var buckets = Enumerable.Range(0, 20_000).Select(i => FeatureValues.PiiBucket($"user{i}@example.com")).ToList();

        Assert.All(buckets, bucket => Assert.Matches("^pii-[0-9]{4}$", bucket));
        Assert.All(buckets, bucket => Assert.InRange(int.Parse(bucket[4..]), 0, FeatureValues.PiiBuckets - 1));
        var sizes = buckets.GroupBy(b => b).Select(g => g.Count()).ToList();
        // About 19.5 values a bucket: every bucket used, none holding more than three times that.
        Assert.Equal(FeatureValues.PiiBuckets, sizes.Count);
        Assert.InRange(sizes.Max(), 1, 60);
        Assert.NotEqual(FeatureValues.PiiBucket("a"), FeatureValues.PiiBucket("A"));
    }

    [Theory]
    [InlineData(FeatureType.Categorical, true, true)]
    [InlineData(FeatureType.Categorical, false, false)]
    [InlineData(FeatureType.Numeric, true, false)]
    [InlineData(FeatureType.Boolean, true, false)]
    public void Only_pii_categorical_features_are_bucketed(FeatureType type, bool pii, bool bucketed) =>
        Assert.Equal(bucketed, FeatureValues.IsBucketed(new FeatureDefinition("f", type, Pii: pii)));

    [Fact]
    public void A_bucketed_input_carries_the_bucket_and_a_missing_value_stays_missing()
    {
        Assert.Equal(FeatureValues.PiiBucket("alice@example.com"), FeatureValues.ToText("alice@example.com", bucketed: true));
        Assert.Equal("alice@example.com", FeatureValues.ToText("alice@example.com", bucketed: false));
        Assert.Equal("", FeatureValues.ToText(null, bucketed: true));
        Assert.Equal("", FeatureValues.ToText("", bucketed: true));
        Assert.Throws<ArgumentException>(() => FeatureValues.ToText(3.0, bucketed: true));
    }

    [Fact]
    public void A_models_metadata_names_its_bucketed_inputs()
    {
        var metadata = new Dictionary<string, string> { [OnnxModelContract.PiiBucketsMetadata] = """["email","card"]""" };

        Assert.Equal(["card", "email"], OnnxModelContract.BucketedFeatures(metadata).Order());
        Assert.Empty(OnnxModelContract.BucketedFeatures(new Dictionary<string, string> { [OnnxModelContract.TaskMetadata] = "binary" }));
    }

    [Theory]
    [InlineData("email")]
    [InlineData("""{"email":true}""")]
    [InlineData("null")]
    [InlineData("[1, 2]")]
    public void Metadata_that_is_not_an_array_of_names_is_refused(string json) =>
        Assert.Throws<InvalidDataException>(() => OnnxModelContract.BucketedFeatures(new Dictionary<string, string> { [OnnxModelContract.PiiBucketsMetadata] = json }));
}
