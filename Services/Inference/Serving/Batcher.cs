using System.Diagnostics;
using System.Threading.Channels;
using Flywheel.Core.Serving;
using Flywheel.Inference.Models;

namespace Flywheel.Inference.Serving;

/// <summary>The rows of one request as scored, and how many rows shared their ONNX Runtime call.</summary>
public sealed record BatchResult(ScoredRow[] Rows, int BatchSize);

/// <summary>
/// Micro-batching for one version. A request that can gain nothing by waiting (see
/// <see cref="BatchAdmission"/>: it is the only one in progress and none came in the last
/// <see cref="ServingSettings.MaxBatchWaitMs"/>, or the wait is 0 and nothing is queued) and finds a
/// runner slot free is scored at once on its own thread: no queue, no thread hop, no wait.
/// Otherwise it queues in a bounded channel, and a runner takes what is waiting — up to
/// <see cref="ServingSettings.MaxBatchSize"/> rows, waiting at most
/// <see cref="ServingSettings.MaxBatchWaitMs"/> from the first request for others to join — and
/// scores it in one <c>Run</c>. With a wait of 0 runners take only what is already queued. A
/// request larger than the batch size runs on its own.
/// </summary>
public sealed class Batcher
{
    private readonly LoadedVersion _version;
    private readonly Func<ServingSettings> _settings;
    private readonly InferenceMetrics _metrics;
    private readonly Channel<Work> _queue;
    private readonly int _slots;
    // ONNX Runtime calls in progress for this version, inline or by a runner.
    private int _busy;
    // When the version's previous request arrived (Stopwatch ticks; 0 before the first).
    private long _lastArrival;

    public Batcher(LoadedVersion version, Func<ServingSettings> settings, InferenceMetrics metrics, int capacity, int runners)
    {
        _version = version;
        _slots = runners;
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
        var now = Stopwatch.GetTimestamp();
        var previous = Interlocked.Exchange(ref _lastArrival, now);
        var sinceLast = previous == 0 ? TimeSpan.MaxValue : Stopwatch.GetElapsedTime(previous, now);
        var atOnce = BatchAdmission.ScoreAtOnce(_version.ActiveRequests, _queue.Reader.Count, sinceLast,
            TimeSpan.FromMilliseconds(settings.MaxBatchWaitMs), slotFree: Volatile.Read(ref _busy) < _slots);
        if (atOnce && TryTakeSlot())
        {
            try
            {
                return Task.FromResult(Run(rows));
            }
            catch (Exception exception)
            {
                return Task.FromException<BatchResult>(exception);
            }
            finally
            {
                Interlocked.Decrement(ref _busy);
            }
        }

        return QueueAsync(rows, cancellationToken);
    }

    private async Task<BatchResult> QueueAsync(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, CancellationToken cancellationToken)
    {
        var work = new Work(rows, new TaskCompletionSource<BatchResult>(TaskCreationOptions.RunContinuationsAsynchronously), Stopwatch.GetTimestamp());
        await _queue.Writer.WriteAsync(work, cancellationToken);
        return await work.Done.Task;
    }

    private bool TryTakeSlot()
    {
        if (Interlocked.Increment(ref _busy) <= _slots)
        {
            return true;
        }

        Interlocked.Decrement(ref _busy);
        return false;
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
                Interlocked.Decrement(ref _busy);
            }
        }
    }

    private void Run(List<Work> batch, int rows)
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var work in batch)
        {
            _metrics.QueueTime(_version, Stopwatch.GetElapsedTime(work.Enqueued, started));
        }

        _metrics.BatchSize(_version, rows);
        try
        {
            var all = batch.Count == 1 ? batch[0].Rows : [.. batch.SelectMany(w => w.Rows)];
            var scored = _version.Score(all);
            var offset = 0;
            foreach (var work in batch)
            {
                work.Done.TrySetResult(new BatchResult(scored[offset..(offset + work.Rows.Count)], rows));
                offset += work.Rows.Count;
            }
        }
        catch (Exception exception)
        {
            foreach (var work in batch)
            {
                work.Done.TrySetException(exception);
            }
        }
    }

    private sealed record Work(IReadOnlyList<IReadOnlyDictionary<string, object?>> Rows, TaskCompletionSource<BatchResult> Done, long Enqueued);
}
