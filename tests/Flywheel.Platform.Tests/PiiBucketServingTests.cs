using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Inference;
using Flywheel.Inference.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Flywheel.Platform.Tests;

/// <summary>
/// An inference worker feeds a PII categorical feature to a model as its bucket exactly where the
/// model's metadata says it was trained on buckets, and as the value to a model without it (one
/// trained before PII buckets), on real ONNX Runtime sessions of <see cref="BucketLookupOnnxModel"/>:
/// in bound calls, in calls built per call, and past the bound limit.
/// </summary>
public sealed class PiiBucketServingTests : IDisposable
{
    private static readonly ModelSchema Schema = new("pii-buckets", ModelTask.Binary,
    [
        new("amount", FeatureType.Numeric, Min: 0),
        new("merchant_category", FeatureType.Categorical, Pii: true),
        new("is_online", FeatureType.Boolean),
        new("hour", FeatureType.Numeric),
    ], new TargetDefinition("is_fraud", FeatureType.Boolean));

    private readonly string _directory = Directory.CreateTempSubdirectory("flywheel-pii-buckets-").FullName;
    private readonly List<LoadedVersion> _versions = [];

    public void Dispose()
    {
        foreach (var version in _versions)
        {
            version.Retire();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(LoadedVersion.MaxBoundRows + 5)]
    public void A_model_trained_on_buckets_is_fed_the_bucket_of_each_value(int rows)
    {
        var version = Load(BucketLookupOnnxModel.Build(FeatureValues.PiiBucket("travel"), """["merchant_category"]"""));

        var scored = version.Score(Rows(rows));

        Assert.Equal(Expected(rows, hit: "travel"), scored.Select(row => row.Probability!.Value));
    }

    [Fact]
    public void The_value_itself_never_reaches_a_model_trained_on_buckets()
    {
        // A model that would recognise the value: fed the bucket, it never does.
        var version = Load(BucketLookupOnnxModel.Build("travel", """["merchant_category"]"""));

        Assert.All(version.Score(Rows(9)), row => Assert.Equal(BucketLookupOnnxModel.Miss, row.Probability));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(LoadedVersion.MaxBoundRows + 5)]
    public void A_model_without_bucket_metadata_is_fed_the_values_it_was_trained_on(int rows)
    {
        var version = Load(BucketLookupOnnxModel.Build("travel", bucketedFeatures: null));

        Assert.Equal(Expected(rows, hit: "travel"), version.Score(Rows(rows)).Select(row => row.Probability!.Value));
    }

    [Fact]
    public void A_model_whose_bucket_metadata_is_not_a_list_of_names_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Load(BucketLookupOnnxModel.Build("travel", "merchant_category")));

        Assert.Contains("flywheel.pii_buckets", error.Message, StringComparison.Ordinal);
    }

    private LoadedVersion Load(byte[] onnx)
    {
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, onnx);
        var factory = new SessionFactory(Options.Create(new InferenceOptions { UseCuda = false }), NullLogger<SessionFactory>.Instance);
        var version = factory.Load("pii-buckets", 1, "test", Schema, path);
        _versions.Add(version);
        return version;
    }

    private static readonly string[] Categories = ["fuel", "travel", "grocery", "Travel", " travel"];

    private static float[] Expected(int rows, string hit) =>
        [.. Enumerable.Range(0, rows).Select(i => Categories[i % Categories.Length] == hit ? BucketLookupOnnxModel.Hit : BucketLookupOnnxModel.Miss)];

    private static IReadOnlyDictionary<string, object?>[] Rows(int count) =>
        [.. Enumerable.Range(0, count).Select(i => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["amount"] = 10.0 + i,
            ["merchant_category"] = Categories[i % Categories.Length],
            ["is_online"] = i % 3 == 0,
            ["hour"] = (double)(i % 24),
        })];
}
