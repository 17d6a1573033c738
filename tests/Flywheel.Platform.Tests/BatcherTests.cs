using System.Collections.Concurrent;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Inference;
using Flywheel.Inference.Models;
using Flywheel.Inference.Serving;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The batcher's no-wait way (<c>max_batch_wait_ms</c> 0) on a real ONNX Runtime session of
/// <see cref="FaultyOnnxModel"/>: P(fraud) is 0.2 below an amount of 300, 0.8 from 300, and the
/// run fails from 600, so every answer says which row it was scored from.
/// </summary>
public sealed class BatcherTests : IDisposable
{
    private static readonly ModelSchema Schema = new("batcher", ModelTask.Binary,
    [
        new("amount", FeatureType.Numeric),
        new("merchant_category", FeatureType.Categorical),
        new("is_online", FeatureType.Boolean),
        new("hour", FeatureType.Numeric),
    ], new TargetDefinition("is_fraud", FeatureType.Boolean));

    private readonly string _directory = Directory.CreateTempSubdirectory("flywheel-batcher-").FullName;
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly LoadedVersion _version;
    private readonly InferenceMetrics _metrics;

    public BatcherTests()
    {
        var path = Path.Combine(_directory, "faulty.onnx");
        File.WriteAllBytes(path, FaultyOnnxModel.Build("""["legit","fraud"]"""));
        var factory = new SessionFactory(Options.Create(new InferenceOptions { UseCuda = false }), NullLogger<SessionFactory>.Instance);
        _version = factory.Load("batcher", 1, "test", Schema, path);
        _metrics = new InferenceMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), new ServedModels());
    }

    public void Dispose()
    {
        _version.Retire();
        _services.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_lone_request_is_scored_at_once_on_its_own_thread_and_alone()
    {
        var batcher = NoWait(slots: 1, maxBatchSize: 64);

        var task = batcher.ScoreAsync([Row(10), Row(450)], CancellationToken.None);

        // Finished before ScoreAsync returned: nothing was queued or handed to another thread.
        Assert.True(task.IsCompletedSuccessfully);
        var result = await task;
        Assert.Equal(2, result.BatchSize);
        Assert.Equal([0.2f, 0.8f], result.Rows.Select(r => r.Probability!.Value));
    }

    [Fact]
    public async Task Requests_that_find_the_slot_busy_queue_and_are_scored_together_by_its_holder_when_it_is_done()
    {
        var batcher = NoWait(slots: 1, maxBatchSize: 8);
        using var holder = SlotHolder.Start(batcher);
        var first = await holder.QueuedBehindAsync(Row(100));

        var others = Enumerable.Range(1, 7).Select(i => batcher.ScoreAsync([Row(i % 2 == 0 ? 100 : 400)], CancellationToken.None)).ToArray();
        var queuedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        Task<BatchResult>[] queued = [first, .. others];
        Assert.All(queued, task => Assert.False(task.IsCompleted));
        var answers = await Task.WhenAll(queued).WaitAsync(TimeSpan.FromMinutes(1));

        // The large call held the slot until after they had all queued, and then they ran as one
        // batch, each with its own row's answer.
        Assert.True(await holder.DoneAt > queuedAt);
        Assert.All(answers, answer => Assert.Equal(8, answer.BatchSize));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? 0.2f : 0.8f), answers.Select(a => a.Rows.Single().Probability!.Value));
    }

    [Fact]
    public async Task With_a_batch_size_of_1_requests_are_scored_at_once_even_while_the_slot_is_held()
    {
        var settings = ServingSettings.Default with { MaxBatchSize = 8, MaxBatchWaitMs = 0 };
        var batcher = new Batcher(_version, () => Volatile.Read(ref settings), _metrics, capacity: 1_000, runners: 2, scoringSlots: 1);
        using var holder = SlotHolder.Start(batcher);
        var queued = await holder.QueuedBehindAsync(Row(100));

        // Batching turned off for the model while the large call holds the one slot.
        Volatile.Write(ref settings, settings with { MaxBatchSize = 1 });
        var small = Enumerable.Range(0, 4).Select(i => batcher.ScoreAsync([Row(i % 2 == 0 ? 100 : 400)], CancellationToken.None)).ToArray();
        var answeredAt = System.Diagnostics.Stopwatch.GetTimestamp();

        // Answered before ScoreAsync returned, while the large call was still in progress ...
        Assert.True(await holder.DoneAt > answeredAt);
        Assert.All(small, task => Assert.True(task.IsCompletedSuccessfully));
        Assert.Equal([0.2f, 0.8f, 0.2f, 0.8f], small.Select(t => t.Result.Rows.Single().Probability!.Value));
        Assert.All(small, task => Assert.Equal(1, task.Result.BatchSize));
        // ... and the request queued before batching was turned off is still scored.
        Assert.Equal(0.2f, (await queued.WaitAsync(TimeSpan.FromMinutes(1))).Rows.Single().Probability);
    }

    [Fact]
    public async Task Concurrent_clients_each_get_the_answer_for_their_own_rows()
    {
        var batcher = NoWait(slots: 1, maxBatchSize: 8);
        var sizes = new ConcurrentBag<int>();
        // Sixteen clients, each sending its next request when its last is answered, as connections do.
        await Task.WhenAll(Enumerable.Range(0, 16).Select(client => Task.Run(async () =>
        {
            for (var i = 0; i < 300; i++)
            {
                var amount = (client * 300 + i) % 2 == 0 ? 100 : 400;
                var result = await batcher.ScoreAsync([Row(amount)], CancellationToken.None);
                Assert.Equal(amount < 300 ? 0.2f : 0.8f, result.Rows.Single().Probability);
                sizes.Add(result.BatchSize);
            }
        }))).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(16 * 300, sizes.Count);
        Assert.All(sizes, size => Assert.InRange(size, 1, 8));
    }

    [Fact]
    public async Task A_request_larger_than_the_batch_size_is_scored_on_its_own()
    {
        var batcher = NoWait(slots: 1, maxBatchSize: 4);
        var rows = Enumerable.Range(0, 10).Select(i => Row(i % 2 == 0 ? 50 : 350)).ToArray();
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => batcher.ScoreAsync(rows, CancellationToken.None))));

        Assert.All(results, result =>
        {
            Assert.Equal(10, result.BatchSize);
            Assert.Equal(rows.Select((_, i) => i % 2 == 0 ? 0.2f : 0.8f), result.Rows.Select(r => r.Probability!.Value));
        });
    }

    [Fact]
    public async Task A_run_that_fails_fails_the_requests_scored_with_it_and_no_others()
    {
        var batcher = NoWait(slots: 1, maxBatchSize: 64);
        var outcomes = new ConcurrentBag<(double Amount, bool Failed, int BatchSize)>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(client => Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                // One request in fifty makes the run fail.
                var amount = (client + i) % 50 == 0 ? 700 : 100;
                try
                {
                    var result = await batcher.ScoreAsync([Row(amount)], CancellationToken.None);
                    Assert.Equal(0.2f, result.Rows.Single().Probability);
                    outcomes.Add((amount, false, result.BatchSize));
                }
                catch (OnnxRuntimeException)
                {
                    outcomes.Add((amount, true, 0));
                }
            }
        }))).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(8 * 200, outcomes.Count);
        // Every request that breaks the model fails; the others fail only when they shared its run.
        Assert.All(outcomes.Where(o => o.Amount >= FaultyOnnxModel.FailsFrom), o => Assert.True(o.Failed));
        Assert.True(outcomes.Count(o => !o.Failed) >= 8 * 200 / 2, "most requests did not share a run with a failing one");

        // And the batcher still scores afterwards.
        Assert.Equal(0.8f, (await batcher.ScoreAsync([Row(500)], CancellationToken.None)).Rows.Single().Probability);
    }

    [Fact]
    public async Task Two_slots_score_two_requests_at_once_without_batching_them()
    {
        var batcher = NoWait(slots: 2, maxBatchSize: 64);
        using var start = new Barrier(2);
        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            return batcher.ScoreAsync([Row(10)], CancellationToken.None);
        })));

        // With a slot each, neither had to queue behind the other.
        Assert.All(results, result => Assert.Equal(1, result.BatchSize));
    }

    [Fact]
    public async Task Many_clients_on_one_slot_lose_no_request_and_completions_do_not_nest()
    {
        // Each client continues on whichever thread completes its request and sends the next one
        // from there: without the batcher collecting completions per thread, 64 × 500 chained
        // requests would recurse until the stack overflowed.
        var batcher = NoWait(slots: 1, maxBatchSize: 16);
        var answered = 0;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async client =>
        {
            await Task.Yield();
            for (var i = 0; i < 500; i++)
            {
                var result = await batcher.ScoreAsync([Row(i % 2 == 0 ? 1 : 301)], CancellationToken.None);
                Assert.Equal(i % 2 == 0 ? 0.2f : 0.8f, result.Rows.Single().Probability);
                Interlocked.Increment(ref answered);
            }
        })).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(64 * 500, answered);
    }

    private Batcher NoWait(int slots, int maxBatchSize)
    {
        var settings = ServingSettings.Default with { MaxBatchSize = maxBatchSize, MaxBatchWaitMs = 0 };
        return new Batcher(_version, () => settings, _metrics, capacity: 1_000, runners: 2, scoringSlots: slots);
    }

    private static Dictionary<string, object?> Row(double amount) => new()
    {
        ["amount"] = amount,
        ["merchant_category"] = "fuel",
        ["is_online"] = false,
        ["hour"] = 12.0,
    };

    /// <summary>A thread whose one very large request holds a batcher's only scoring slot for a long while.</summary>
    private sealed class SlotHolder : IDisposable
    {
        private readonly Batcher _batcher;
        private readonly Thread _thread;
        private readonly TaskCompletionSource<long> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private SlotHolder(Batcher batcher)
        {
            _batcher = batcher;
            var large = Enumerable.Range(0, 400_000).Select(_ => Row(5)).ToArray();
            _thread = new Thread(() =>
            {
                var task = _batcher.ScoreAsync(large, CancellationToken.None);
                _done.SetResult(System.Diagnostics.Stopwatch.GetTimestamp());
                task.GetAwaiter().GetResult();
            });
        }

        /// <summary>When the large request's <c>ScoreAsync</c> returned, its call and what it scored after it done.</summary>
        public Task<long> DoneAt => _done.Task;

        public static SlotHolder Start(Batcher batcher)
        {
            var holder = new SlotHolder(batcher);
            holder._thread.Start();
            return holder;
        }

        /// <summary>
        /// Sends <paramref name="row"/> until it has to queue, which it does only once the large call
        /// holds the slot (before that it is scored at once): the request that queued.
        /// </summary>
        public async Task<Task<BatchResult>> QueuedBehindAsync(Dictionary<string, object?> row)
        {
            for (var attempt = 0; attempt < 10_000; attempt++)
            {
                var probe = _batcher.ScoreAsync([row], CancellationToken.None);
                if (!probe.IsCompleted)
                {
                    return probe;
                }

                Assert.False(_done.Task.IsCompleted, "the large request finished before anything could queue behind it");
                await Task.Delay(1);
            }

            throw new TimeoutException("the large request never took the slot");
        }

        public void Dispose() => _thread.Join();
    }
}
