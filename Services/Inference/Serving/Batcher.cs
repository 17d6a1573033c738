using System.Diagnostics;
using System.Threading.Channels;
using Flywheel.Core.Serving;
using Flywheel.Inference.Models;

namespace Flywheel.Inference.Serving;

/// <summary>The rows of one request as scored, and how many rows shared their ONNX Runtime call.</summary>
public sealed record BatchResult(ScoredRow[] Rows, int BatchSize);

/// <summary>
/// Micro-batching for one version: concurrent requests queue in a bounded channel, and each
/// runner takes what is waiting — up to <see cref="ServingSettings.MaxBatchSize"/> rows, waiting
/// at most <see cref="ServingSettings.MaxBatchWaitMs"/> from the first request for others to join —
/// and scores it in one <c>Run</c>, then hands each request its rows. A lone request is never held
/// longer than the wait; a request larger than the batch size runs on its own.
/// </summary>
public sealed class Batcher
{
    private readonly LoadedVersion _version;
    private readonly Func<ServingSettings> _settings;
    private readonly InferenceMetrics _metrics;
    private readonly Channel<Work> _queue;

    public Batcher(LoadedVersion version, Func<ServingSettings> settings, InferenceMetrics metrics, int capacity, int runners)
    {
        _version = version;
        _settings = settings;
        _metrics = metrics;
        _queue = Channel.CreateBounded<Work>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait });
        for (var i = 0; i < runners; i++)
        {
            _ = Task.Run(RunAsync);
        }
    }

    public async Task<BatchResult> ScoreAsync(IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, CancellationToken cancellationToken)
    {
        var work = new Work(rows, new TaskCompletionSource<BatchResult>(TaskCreationOptions.RunContinuationsAsynchronously), Stopwatch.GetTimestamp());
        await _queue.Writer.WriteAsync(work, cancellationToken);
        return await work.Done.Task;
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

            Run(batch, rows);
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
