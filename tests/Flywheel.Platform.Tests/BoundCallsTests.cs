using Flywheel.Core.Schema;
using Flywheel.Inference;
using Flywheel.Inference.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Calls of up to <see cref="LoadedVersion.MaxBoundRows"/> rows reuse inputs and outputs bound to
/// the session once per row count, on a real ONNX Runtime session of <see cref="FaultyOnnxModel"/>:
/// P(fraud) is 0.2 below an amount of 300 and 0.8 from 300, and the run fails from 600, so every
/// answer says which row it was scored from.
/// </summary>
public sealed class BoundCallsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("flywheel-bound-").FullName;
    private readonly List<LoadedVersion> _versions = [];

    public void Dispose()
    {
        foreach (var version in _versions)
        {
            version.Retire();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void A_binary_model_binds_its_calls_and_every_row_count_gets_each_rows_own_answer()
    {
        var version = Load(ModelTask.Binary, flatOutputs: false);
        Assert.True(version.BindsCalls);

        // Every row count up to the bound limit, and past it (built per call), twice each: the
        // second call of a count reuses the first one's buffers.
        for (var count = 1; count <= LoadedVersion.MaxBoundRows + 3; count++)
        {
            for (var pass = 0; pass < 2; pass++)
            {
                var amounts = Amounts(count, seed: count + pass);
                var scored = version.Score(Rows(amounts));
                Assert.Equal(count, scored.Length);
                for (var i = 0; i < count; i++)
                {
                    var expected = Probability(amounts[i]);
                    Assert.Equal(expected, scored[i].Probability);
                    Assert.Equal([expected], scored[i].Scores);
                    Assert.Equal(expected > 0.5f, scored[i].Label);
                }
            }
        }
    }

    [Fact]
    public void A_regression_model_binds_its_score_alone()
    {
        var version = Load(ModelTask.Regression, flatOutputs: false);
        Assert.True(version.BindsCalls);

        var amounts = Amounts(9, seed: 3);
        var scored = version.Score(Rows(amounts));
        Assert.Equal(amounts.Select(Probability), scored.Select(row => row.Scores.Single()));
        Assert.All(scored, row => Assert.Null(row.Label));
        Assert.All(scored, row => Assert.Null(row.Probability));
    }

    [Fact]
    public void A_model_whose_outputs_do_not_have_the_contracts_shape_is_served_without_bound_calls()
    {
        var version = Load(ModelTask.Binary, flatOutputs: true);
        Assert.False(version.BindsCalls);

        var amounts = Amounts(5, seed: 1);
        var scored = version.Score(Rows(amounts));
        Assert.Equal(amounts.Select(Probability), scored.Select(row => row.Probability!.Value));
    }

    [Fact]
    public void A_failed_run_fails_only_its_call_and_later_calls_of_that_row_count_still_score()
    {
        var version = Load(ModelTask.Binary, flatOutputs: false);
        Assert.True(version.BindsCalls);

        for (var round = 0; round < 20; round++)
        {
            Assert.Throws<OnnxRuntimeException>(() => version.Score(Rows([100, FaultyOnnxModel.FailsFrom + round, 400])));
            var scored = version.Score(Rows([400, 100, 350]));
            Assert.Equal([0.8f, 0.2f, 0.8f], scored.Select(row => row.Probability!.Value));
        }
    }

    [Fact]
    public async Task Concurrent_calls_of_the_same_and_different_row_counts_each_get_their_own_rows_answers()
    {
        var version = Load(ModelTask.Binary, flatOutputs: false);
        var wrong = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(thread => Task.Run(() =>
        {
            for (var i = 0; i < 400; i++)
            {
                // Counts 1 to 4 mostly, so that threads share row counts and so pooled buffers.
                var amounts = Amounts(1 + ((thread + i) % 4), seed: (thread * 1000) + i);
                var scored = version.Score(Rows(amounts));
                if (!scored.Select(row => row.Probability!.Value).SequenceEqual(amounts.Select(Probability)))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        }))).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(0, wrong);
    }

    [Fact]
    public void A_version_retired_with_its_bound_calls_pooled_releases_them_without_error()
    {
        var version = Load(ModelTask.Binary, flatOutputs: false);
        version.Score(Rows([100]));
        version.Score(Rows([100, 400]));
        Assert.True(version.TryAcquire());
        version.Retire();

        // A request still holding a lease scores through the pooled buffers; its release disposes them.
        Assert.Equal([0.2f, 0.8f], version.Score(Rows([100, 400])).Select(row => row.Probability!.Value));
        _versions.Remove(version);
        version.Release();
        Assert.True(version.Retired);
    }

    private LoadedVersion Load(ModelTask task, bool flatOutputs)
    {
        var schema = new ModelSchema("bound", task,
        [
            new("amount", FeatureType.Numeric, Min: 0),
            new("merchant_category", FeatureType.Categorical, Categories: ["fuel", "grocery", "travel"]),
            new("is_online", FeatureType.Boolean),
            new("hour", FeatureType.Numeric),
        ], new TargetDefinition("is_fraud", task == ModelTask.Regression ? FeatureType.Numeric : FeatureType.Boolean));
        var path = Path.Combine(_directory, $"{task}-{flatOutputs}-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, FaultyOnnxModel.Build("""["legit","fraud"]""", flatOutputs));
        var factory = new SessionFactory(Options.Create(new InferenceOptions { UseCuda = false }), NullLogger<SessionFactory>.Instance);
        var version = factory.Load("bound", 1, "test", schema, path);
        _versions.Add(version);
        return version;
    }

    /// <summary>What the model answers for an amount below its failing range: P(fraud), also its score.</summary>
    private static float Probability(double amount) => amount >= FaultyOnnxModel.Step ? 0.8f : 0.2f;

    /// <summary>Amounts on both sides of the model's step, in an order that differs by seed.</summary>
    private static double[] Amounts(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => random.Next(2) == 0 ? 50 + random.Next(200) : 320 + random.Next(250))];
    }

    private static IReadOnlyDictionary<string, object?>[] Rows(double[] amounts) =>
        [.. amounts.Select((amount, i) => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["amount"] = amount,
            ["merchant_category"] = i % 2 == 0 ? "fuel" : "travel",
            ["is_online"] = i % 3 == 0,
            ["hour"] = (double)(i % 24),
        })];
}
