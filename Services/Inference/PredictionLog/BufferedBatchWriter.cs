using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Npgsql;

namespace Flywheel.Inference.PredictionLog;

/// <summary>
/// What the prediction log and the error log share: the request path hands an entry to a bounded
/// in-memory buffer (<see cref="TryAppend"/> never waits) and a background loop writes the buffer
/// to the database in batches, one batch at a time.
/// <para><b>A full buffer refuses the newest entry</b> and counts it: the request is still
/// answered and entries already buffered keep their place, so a slow database costs the log its
/// newest entries, never latency or memory.</para>
/// <para><b>A failed write loses nothing</b> while the process lives: the batch is kept and
/// written again with exponential backoff. A data exception (SQLSTATE class 22, a value the
/// database refuses) is not transient: the batch is halved until the entry at fault stands
/// alone, the rest is written, and that one is counted as dropped.</para>
/// <para><b>Stopping writes what is buffered</b>: <see cref="StopAsync"/> closes the buffer and
/// returns once everything in it is written, or when the host's shutdown timeout fires.</para>
/// </summary>
public abstract partial class BufferedBatchWriter<T> : BackgroundService
    where T : class
{
    private readonly Channel<T> _buffer;
    private readonly int _batchSize;
    private readonly TimeSpan _flushInterval;
    private readonly TimeSpan _maxRetryDelay;
    private readonly Counter<long> _dropped;
    private readonly Counter<long>? _written;
    private readonly string _entries;
    // Cancelled only when the host gives up waiting for the flush on shutdown.
    private readonly CancellationTokenSource _abandon = new();
    private readonly ILogger _logger;
    private long _droppedTotal;
    // Entries buffered and not yet taken: appends add, the loop subtracts what it takes. A full
    // batch's worth completes _batchFull, which ends the loop's gathering wait early.
    private int _pending;
    private TaskCompletionSource _batchFull = NewSignal();
    private volatile bool _stopping;

    /// <param name="entries">What the entries are called in logs, plural ("prediction log records").</param>
    protected BufferedBatchWriter(
        string entries, int capacity, int batchSize, TimeSpan flushInterval, TimeSpan maxRetryDelay,
        Counter<long> dropped, Counter<long>? written, TimeProvider time, ILogger logger)
    {
        _entries = entries;
        _batchSize = batchSize;
        _flushInterval = flushInterval;
        _maxRetryDelay = maxRetryDelay;
        _dropped = dropped;
        _written = written;
        Time = time;
        _logger = logger;
        // Wait mode with TryWrite: a full buffer makes TryWrite return false, which refuses the new
        // entry (DropNewest would accept it and silently discard one already buffered).
        _buffer = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    protected TimeProvider Time { get; }

    /// <summary>Entries refused since start because the buffer was full or the database refused them (also the dropped counter).</summary>
    public long Dropped => Interlocked.Read(ref _droppedTotal);

    /// <summary>Entries buffered and not yet taken into a batch.</summary>
    public int Depth => _buffer.Reader.Count;

    /// <summary>Queues the entry for a coming batch; false, counted, when the buffer is full.</summary>
    protected bool TryBuffer(T entry)
    {
        if (_buffer.Writer.TryWrite(entry))
        {
            if (Interlocked.Increment(ref _pending) >= _batchSize)
            {
                Volatile.Read(ref _batchFull).TrySetResult();
            }

            return true;
        }

        CountDropped(entry);
        return false;
    }

    /// <summary>Writes one batch; called with at most the batch size, never empty, one call at a time.</summary>
    protected abstract Task WriteAsync(IReadOnlyList<T> batch, CancellationToken cancellationToken);

    /// <summary>The model an entry belongs to: the dropped counter's tag.</summary>
    protected abstract string ModelOf(T entry);

    /// <summary>Names one entry in the log when the database refuses it.</summary>
    protected abstract string Describe(T entry);

    /// <summary>Work done before the first batch is written, e.g. creating the partitions it lands in.</summary>
    protected virtual Task PrepareAsync(CancellationToken stoppingToken) => Task.CompletedTask;

    /// <summary>Upkeep that runs beside the writing loop until the service stops, e.g. creating the next days' partitions.</summary>
    protected virtual Task MaintainAsync(CancellationToken stoppingToken) => Task.CompletedTask;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _buffer.Writer.TryComplete();
        Volatile.Read(ref _batchFull).TrySetResult();
        await using (cancellationToken.Register(_abandon.Cancel))
        {
            if (ExecuteTask is { } draining)
            {
                try
                {
                    await draining.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    LogFlushAbandoned(Depth, _entries);
                }
            }
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Stopping means "write what is buffered, then end": the loop ends when the buffer is closed
        // and empty, and only the host's shutdown timeout (_abandon) cuts it short.
        await PrepareAsync(stoppingToken);
        using var stopMaintaining = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var maintaining = MaintainAsync(stopMaintaining.Token);
        var batch = new List<T>(_batchSize);
        try
        {
            while (await _buffer.Reader.WaitToReadAsync(_abandon.Token))
            {
                // The first entry after a quiet spell: let a flush interval's worth gather (a full
                // batch or stopping ends the wait early), then write everything buffered, a batch
                // at a time. Entries arriving meanwhile wake nobody: appending stays a buffer write.
                await GatherAsync();
                while (true)
                {
                    while (batch.Count < _batchSize && _buffer.Reader.TryRead(out var entry))
                    {
                        batch.Add(entry);
                    }

                    if (batch.Count == 0)
                    {
                        break;
                    }

                    Interlocked.Add(ref _pending, -batch.Count);
                    await WriteWithRetryAsync(batch);
                    batch.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
        {
            LogFlushAbandoned(batch.Count + Depth, _entries);
        }

        await stopMaintaining.CancelAsync();
        await maintaining;
    }

    /// <summary>Waits one flush interval, or less when a full batch is buffered or the service is stopping.</summary>
    private async Task GatherAsync()
    {
        var signal = NewSignal();
        Volatile.Write(ref _batchFull, signal);
        // Checked after the new signal is published, so a batch filled meanwhile is not missed.
        if (_stopping || Volatile.Read(ref _pending) >= _batchSize)
        {
            return;
        }

        using var interval = CancellationTokenSource.CreateLinkedTokenSource(_abandon.Token);
        var elapsed = Task.Delay(_flushInterval, Time, interval.Token);
        await Task.WhenAny(signal.Task, elapsed);
        await interval.CancelAsync();
        _abandon.Token.ThrowIfCancellationRequested();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task WriteWithRetryAsync(List<T> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await WriteAsync(batch, _abandon.Token);
                _written?.Add(batch.Count);
                if (attempt > 1)
                {
                    LogRecovered(batch.Count, _entries, attempt);
                }

                return;
            }
            catch (PostgresException exception) when (exception.SqlState.StartsWith("22", StringComparison.Ordinal))
            {
                if (batch.Count == 1)
                {
                    CountDropped(batch[0]);
                    LogEntryRefused(exception, Describe(batch[0]));
                    return;
                }

                var half = batch.Count / 2;
                await WriteWithRetryAsync(batch.GetRange(0, half));
                await WriteWithRetryAsync(batch.GetRange(half, batch.Count - half));
                return;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && !_abandon.IsCancellationRequested)
            {
                LogWriteFailed(exception, batch.Count, _entries, attempt, delay.TotalMilliseconds);
                await Task.Delay(delay, Time, _abandon.Token);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _maxRetryDelay.Ticks));
            }
        }
    }

    private void CountDropped(T entry)
    {
        Interlocked.Increment(ref _droppedTotal);
        _dropped.Add(1, new KeyValuePair<string, object?>("model", ModelOf(entry)));
    }

    public override void Dispose()
    {
        _abandon.Dispose();
        base.Dispose();
        GC.SuppressFinalize(this);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} {Entries} failed (attempt {Attempt}); retrying in {DelayMs} ms")]
    private partial void LogWriteFailed(Exception exception, int count, string entries, int attempt, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "The database refused {Entry}; it is dropped")]
    private partial void LogEntryRefused(Exception exception, string entry);

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote {Count} {Entries} after {Attempt} attempts")]
    private partial void LogRecovered(int count, string entries, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown timed out with {Count} {Entries} unwritten")]
    private partial void LogFlushAbandoned(int count, string entries);
}
