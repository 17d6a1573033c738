using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Flywheel.Core.Serving;
using Flywheel.Inference.Models;

namespace Flywheel.Inference.Serving;

/// <summary>The rows of one request as scored, and how many rows shared their ONNX Runtime call.</summary>
public sealed record BatchResult(ScoredRow[] Rows, int BatchSize);

/// <summary>
/// Micro-batching for one version, in one of two ways by the model's
/// <see cref="ServingSettings.MaxBatchWaitMs"/>:
/// <list type="bullet">
/// <item><b>No wait (0, the default): batches form from contention.</b> A request that finds one of
/// the version's scoring slots free and nobody queued is scored at once on its own thread. One
/// that finds every slot busy queues, and whoever holds a slot, once its own call is done, scores
/// what queued meanwhile (up to <see cref="ServingSettings.MaxBatchSize"/> rows) on its thread
/// before letting the slot go: no timer. At light and moderate load nearly every request is scored
/// alone where it was read, and nothing goes to the thread pool; under load the calls grow as
/// requests pile up behind a call in progress, and the requests of a shared call are answered on
/// the pool, in parallel.</item>
/// <item><b>A positive wait: requests are held for each other.</b> A request that can gain nothing by
/// waiting (see <see cref="BatchAdmission"/>: it is the only one in progress and none came in the
/// last wait) and finds a runner slot free is scored at once on its own thread. Otherwise it queues
/// in a bounded channel, and a runner on the thread pool takes what is waiting — up to the batch
/// size, waiting at most the wait from the first request for others to join — and scores it in
/// one <c>Run</c>.</item>
/// </list>
/// A request larger than the batch size runs on its own; with a batch size of 1 every request is
/// scored at once on its own thread.
/// </summary>
public sealed class Batcher
{
    private readonly LoadedVersion _version;
    private readonly Func<ServingSettings> _settings;
    private readonly InferenceMetrics _metrics;
    private readonly Channel<Work> _queue;
    private readonly int _slots;
    // Requests waiting for a scoring slot when the wait is 0, scored by whoever holds one next.
    private readonly ConcurrentQueue<Work> _waiting = new();
    private readonly int _scoringSlots;
    // ONNX Runtime calls in progress for this version, inline or by a runner.
    private int _busy;
    // When the version's previous request arrived (Stopwatch ticks; 0 before the first).
    private long _lastArrival;

    /// <param name="runners">Runners on the thread pool, and runner slots, for a positive wait.</param>
    /// <param name="scoringSlots">ONNX Runtime calls for the version at once when the wait is 0; fewer slots, larger batches under load.</param>
    public Batcher(LoadedVersion version, Func<ServingSettings> settings, InferenceMetrics metrics, int capacity, int runners, int scoringSlots)
    {
        _version = version;
        _slots = runners;
        _scoringSlots = Math.Max(1, scoringSlots);
        _settings = settings;
        _metrics = metrics;
        _queue = Channel.CreateBounded<Work>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait });
        for (var i = 0; i < runners; i++)
        {
            _ = Task.Run(RunAsync);
        }
    }

    public Task<BatchResult> ScoreAsync(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, CancellationToken cancellationToken)
    {
        var settings = _settings();
        if (settings.MaxBatchSize == 1)
        {
            // Batching is off for the model: nothing can be gained by queuing. (Requests queued
            // before it was turned off are scored by the slot holders as usual.)
            return ScoreNow(rows);
        }

        if (settings.MaxBatchWaitMs <= 0)
        {
            return ScoreWithoutWaiting(rows, settings.MaxBatchSize);
        }

        var now = Stopwatch.GetTimestamp();
        var previous = Interlocked.Exchange(ref _lastArrival, now);
        var sinceLast = previous == 0 ? TimeSpan.MaxValue : Stopwatch.GetElapsedTime(previous, now);
        var atOnce = BatchAdmission.ScoreAtOnce(_version.ActiveRequests, _queue.Reader.Count, sinceLast,
            TimeSpan.FromMilliseconds(settings.MaxBatchWaitMs), slotFree: Volatile.Read(ref _busy) < _slots);
        if (atOnce && TryTakeSlot())
        {
            try
            {
                return ScoreNow(rows);
            }
            finally
            {
                ReleaseSlot();
            }
        }

        return QueueAsync(rows, cancellationToken);
    }

    /// <summary>The no-wait way: score now if a slot is free, else queue for the next slot holder.</summary>
    private Task<BatchResult> ScoreWithoutWaiting(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, int maxBatchSize)
    {
        if (_waiting.IsEmpty && TryTakeSlot(_scoringSlots))
        {
            var own = ScoreNow(rows);
            ScoreQueuedAndRelease(maxBatchSize);
            return own;
        }

        // Completed where it is scored (see Complete), not necessarily on the pool.
        var work = new Work(rows, new TaskCompletionSource<BatchResult>(), Stopwatch.GetTimestamp());
        _waiting.Enqueue(work);
        // A holder that let go just before this was queued has not seen it: take the slot and score it.
        if (TryTakeSlot(_scoringSlots))
        {
            ScoreQueuedAndRelease(maxBatchSize);
        }

        return work.Done.Task;
    }

    /// <summary>With a slot held: scores what queued meanwhile, lets the slot go, then answers those requests.</summary>
    private void ScoreQueuedAndRelease(int maxBatchSize)
    {
        var queued = ScoreQueued(maxBatchSize);
        ReleaseSlot();
        Complete(queued);
    }

    /// <summary>With a slot held: one call for up to <paramref name="maxBatchSize"/> rows of queued requests, oldest first (always at least one request); null when none is queued.</summary>
    private List<Outcome>? ScoreQueued(int maxBatchSize)
    {
        var rows = 0;
        List<Work>? batch = null;
        Work? apart = null;
        while (_waiting.TryPeek(out var peeked) && (batch is null || rows + peeked.Rows.Count <= maxBatchSize))
        {
            if (!_waiting.TryDequeue(out var next))
            {
                break;
            }

            if (batch is not null && rows + next.Rows.Count > maxBatchSize)
            {
                // Another slot's holder took the one looked at, and this one does not fit: a call of its own.
                apart = next;
                break;
            }

            (batch ??= []).Add(next);
            rows += next.Rows.Count;
        }

        if (batch is null)
        {
            return null;
        }

        var outcomes = Score(batch, rows);
        if (apart is not null)
        {
            outcomes.AddRange(Score([apart], apart.Rows.Count));
        }

        return outcomes;
    }

    /// <summary>
    /// Lets a slot go, and makes sure nothing queued is left without someone to score it: a request
    /// queues only after finding every slot busy, and each holder looks again after letting go.
    /// What is still queued then is scored by one work item on the thread pool (not one per request).
    /// </summary>
    private void ReleaseSlot()
    {
        Interlocked.Decrement(ref _busy);
        if (!_waiting.IsEmpty && TryTakeSlot(_scoringSlots))
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.DrainAll(), this, preferLocal: false);
        }
    }

    /// <summary>On the thread pool, with a slot held: score until nothing is queued.</summary>
    private void DrainAll()
    {
        while (true)
        {
            var queued = ScoreQueued(_settings().MaxBatchSize);
            Interlocked.Decrement(ref _busy);
            Complete(queued);
            if (_waiting.IsEmpty || !TryTakeSlot(_scoringSlots))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Answers queued requests once their call is done and the slot is free again (so the rest of
    /// their requests never holds up the next call). A lone one is completed on this thread, which
    /// runs the rest of its request here; that may score another request and complete more, so
    /// completions are collected and run by the outermost call on the thread, and the stack does
    /// not grow with them. Several (the machine is busy) go to the thread pool, one work item each,
    /// so their answers are written on every core rather than one after another on this thread.
    /// </summary>
    private static void Complete(List<Outcome>? outcomes)
    {
        if (outcomes is null)
        {
            return;
        }

        if (outcomes.Count > 1)
        {
            foreach (var outcome in outcomes)
            {
                ThreadPool.UnsafeQueueUserWorkItem(outcome, preferLocal: false);
            }

            return;
        }

        if (t_completing is { } outer)
        {
            outer.AddRange(outcomes);
            return;
        }

        var pending = t_completing = outcomes;
        try
        {
            for (var i = 0; i < pending.Count; i++)
            {
                pending[i].Complete();
            }
        }
        finally
        {
            t_completing = null;
        }
    }

    [ThreadStatic]
    private static List<Outcome>? t_completing;

    private List<Outcome> Score(List<Work> batch, int rows)
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var work in batch)
        {
            _metrics.QueueTime(_version, Stopwatch.GetElapsedTime(work.Enqueued, started));
        }

        _metrics.BatchSize(_version, rows);
        var outcomes = new List<Outcome>(batch.Count);
        try
        {
            var all = batch.Count == 1 ? batch[0].Rows : [.. batch.SelectMany(w => w.Rows)];
            var scored = _version.Score(all);
            var offset = 0;
            foreach (var work in batch)
            {
                outcomes.Add(new Outcome(work, new BatchResult(scored[offset..(offset + work.Rows.Count)], rows), null));
                offset += work.Rows.Count;
            }
        }
        catch (Exception exception)
        {
            outcomes.Clear();
            outcomes.AddRange(batch.Select(work => new Outcome(work, null, exception)));
        }

        return outcomes;
    }

    private sealed record Outcome(Work Work, BatchResult? Result, Exception? Failure) : IThreadPoolWorkItem
    {
        void IThreadPoolWorkItem.Execute() => Complete();

        public void Complete()
        {
            if (Failure is null)
            {
                Work.Done.TrySetResult(Result!);
            }
            else
            {
                Work.Done.TrySetException(Failure);
            }
        }
    }

    private async Task<BatchResult> QueueAsync(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, CancellationToken cancellationToken)
    {
        var work = new Work(rows, new TaskCompletionSource<BatchResult>(TaskCreationOptions.RunContinuationsAsynchronously), Stopwatch.GetTimestamp());
        await _queue.Writer.WriteAsync(work, cancellationToken);
        return await work.Done.Task;
    }

    private bool TryTakeSlot() => TryTakeSlot(_slots);

    /// <summary>
    /// Takes a slot when fewer than <paramref name="slots"/> are held. Never counts past the limit,
    /// even for a moment: a holder that lets go and looks again must not be refused by a request
    /// that was itself about to give up.
    /// </summary>
    private bool TryTakeSlot(int slots)
    {
        var busy = Volatile.Read(ref _busy);
        while (busy < slots)
        {
            var seen = Interlocked.CompareExchange(ref _busy, busy + 1, busy);
            if (seen == busy)
            {
                return true;
            }

            busy = seen;
        }

        return false;
    }

    /// <summary>A request scored on its caller's thread, its failure in the task rather than thrown.</summary>
    private Task<BatchResult> ScoreNow(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        try
        {
            return Task.FromResult(Run(rows));
        }
        catch (Exception exception)
        {
            return Task.FromException<BatchResult>(exception);
        }
    }

    /// <summary>A request scored on its caller's thread: it waited for nobody.</summary>
    private BatchResult Run(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows)
    {
        _metrics.QueueTime(_version, TimeSpan.Zero);
        _metrics.BatchSize(_version, rows.Count);
        return new BatchResult(_version.Score(rows), rows.Count);
    }

    internal void Complete() => _queue.Writer.TryComplete();

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        Work? carried = null;
        var batch = new List<Work>();
        while (carried is not null || await reader.WaitToReadAsync())
        {
            batch.Clear();
            if (carried is not null)
            {
                batch.Add(carried);
                carried = null;
            }
            else if (!reader.TryRead(out var first))
            {
                continue;
            }
            else
            {
                batch.Add(first);
            }

            var settings = _settings();
            var rows = batch[0].Rows.Count;
            var deadline = batch[0].Enqueued + (long)(settings.MaxBatchWaitMs * Stopwatch.Frequency / 1000);
            // With no wait this takes what is queued now and runs.
            while (rows < settings.MaxBatchSize)
            {
                if (reader.TryRead(out var next))
                {
                    if (rows + next.Rows.Count > settings.MaxBatchSize)
                    {
                        carried = next;
                        break;
                    }

                    batch.Add(next);
                    rows += next.Rows.Count;
                    continue;
                }

                var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero)
                {
                    break;
                }

                var arrived = reader.WaitToReadAsync().AsTask();
                if (await Task.WhenAny(arrived, Task.Delay(remaining)) != arrived || !await arrived)
                {
                    break;
                }
            }

            Interlocked.Increment(ref _busy);
            try
            {
                Run(batch, rows);
            }
            finally
            {
                ReleaseSlot();
            }
        }
    }

    private void Run(List<Work> batch, int rows)
    {
        // The runner's requests were queued with continuations that run on the pool, not here.
        foreach (var outcome in Score(batch, rows))
        {
            outcome.Complete();
        }
    }

    private sealed record Work(IReadOnlyList<IReadOnlyDictionary<string, object?>> Rows, TaskCompletionSource<BatchResult> Done, long Enqueued);
}
