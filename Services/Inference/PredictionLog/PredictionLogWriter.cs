using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Inference.PredictionLog;

/// <summary>
/// Appends served predictions to <c>inference.predictions</c> off the request path: a request
/// puts its record in a bounded in-memory buffer (<see cref="TryAppend"/> never waits) and a
/// background loop writes the buffer in batches with binary COPY, one batch at a time.
/// <para><b>A full buffer refuses the newest record</b> ("drop newest, count it"): the
/// prediction is still answered, the record is counted by
/// <c>flywheel.inference.prediction_log.dropped</c>, and records already buffered keep their
/// place, so a slow database costs the log its newest entries, never latency or memory.
/// <c>flywheel.inference.prediction_log.depth</c> shows how full the buffer is.</para>
/// <para><b>A failed COPY loses nothing</b> while the process lives: the batch is kept and
/// written again with exponential backoff; meanwhile the buffer fills and then refuses. At most
/// one batch is in flight. A COPY whose commit reached the database but whose answer did not
/// is written again, so a prediction id can appear twice after a connection breaks at that
/// instant; readers de-duplicate by prediction id.</para>
/// <para><b>Graceful shutdown loses nothing</b>: <see cref="StopAsync"/> closes the buffer and
/// returns once everything in it is written (or the host's shutdown timeout has passed; see
/// <see cref="PredictionLogExtensions.AddPredictionLog"/>). The web server stops first, so the
/// requests it drains still reach the buffer.</para>
/// <para><b>Crash-loss window</b>: a process killed outright (SIGKILL, out of memory, power)
/// loses what the buffer holds and the batch in flight: at most
/// <see cref="PredictionLogOptions.Capacity"/> + <see cref="PredictionLogOptions.BatchSize"/>
/// records, in steady state about one flush interval's worth.</para>
/// <para><b>Partitions</b>: at start and every hour it creates the daily partitions for today and
/// the next two days (UTC) if they are missing, so rows land in their day's partition and old
/// days can be dropped cheaply; the default partition catches anything else.</para>
/// </summary>
public sealed partial class PredictionLogWriter : BackgroundService, IPredictionLog
{
    public const string MeterName = "Flywheel.Inference";
    public const string DroppedMetric = "flywheel.inference.prediction_log.dropped";
    public const string DepthMetric = "flywheel.inference.prediction_log.depth";
    public const string WrittenMetric = "flywheel.inference.prediction_log.written";

    private const string Copy = """
        COPY inference.predictions (prediction_id, at, model, version, shadow, entity_id, inputs, outputs, latency_us, batch_size, caller)
        FROM STDIN (FORMAT BINARY)
        """;

    private static readonly TimeSpan PartitionInterval = TimeSpan.FromHours(1);
    private const int DaysAhead = 2;

    private readonly NpgsqlDataSource _database;
    private readonly PredictionLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PredictionLogWriter> _logger;
    private readonly Channel<PredictionRecord> _buffer;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _written;
    // Cancelled only when the host gives up waiting for the flush on shutdown.
    private readonly CancellationTokenSource _abandon = new();
    private long _droppedTotal;

    public PredictionLogWriter(
        NpgsqlDataSource database, IOptions<PredictionLogOptions> options, IMeterFactory meters, ILogger<PredictionLogWriter> logger, TimeProvider? time = null)
    {
        _database = database;
        _options = options.Value;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        // Wait mode with TryWrite: a full buffer makes TryWrite return false, which refuses the new
        // record (DropNewest would accept it and silently discard one already buffered).
        _buffer = Channel.CreateBounded<PredictionRecord>(new BoundedChannelOptions(_options.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        var meter = meters.Create(MeterName);
        _dropped = meter.CreateCounter<long>(DroppedMetric, "{record}", "Prediction log records refused because the buffer was full.");
        _written = meter.CreateCounter<long>(WrittenMetric, "{record}", "Prediction log records written to the database.");
        meter.CreateObservableGauge(DepthMetric, () => _buffer.Reader.Count, "{record}", "Prediction log records waiting to be written.");
    }

    /// <summary>Records refused since start because the buffer was full (also the dropped counter).</summary>
    public long Dropped => Interlocked.Read(ref _droppedTotal);

    /// <summary>Records buffered and not yet taken into a batch.</summary>
    public int Depth => _buffer.Reader.Count;

    public bool TryAppend(PredictionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (_buffer.Writer.TryWrite(record))
        {
            return true;
        }

        Interlocked.Increment(ref _droppedTotal);
        _dropped.Add(1, new KeyValuePair<string, object?>("model", record.Model));
        return false;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _buffer.Writer.TryComplete();
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
                    LogFlushAbandoned(Depth);
                }
            }
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Stopping means "write what is buffered, then end": the loop ends when the buffer is closed
        // and empty, and only the host's shutdown timeout (_abandon) cuts it short.
        // Partitions first: a row written before its day's partition exists lands in the default
        // partition, and then that day's partition can no longer be created.
        await EnsurePartitionsAsync(stoppingToken);
        using var stopPartitions = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var partitions = MaintainPartitionsAsync(stopPartitions.Token);
        var batch = new List<PredictionRecord>(_options.BatchSize);
        var flushInterval = TimeSpan.FromMilliseconds(_options.FlushIntervalMilliseconds);
        try
        {
            while (await _buffer.Reader.WaitToReadAsync(_abandon.Token))
            {
                var deadline = _time.GetUtcNow() + flushInterval;
                while (batch.Count < _options.BatchSize)
                {
                    if (_buffer.Reader.TryRead(out var record))
                    {
                        batch.Add(record);
                        continue;
                    }

                    var wait = deadline - _time.GetUtcNow();
                    if (wait <= TimeSpan.Zero || !await WaitForMoreAsync(wait))
                    {
                        break;
                    }
                }

                await WriteWithRetryAsync(batch);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
        {
            LogFlushAbandoned(batch.Count + Depth);
        }

        await stopPartitions.CancelAsync();
        await partitions;
    }

    /// <summary>True when more records arrived within <paramref name="wait"/>; false on timeout or when the buffer is closed and empty.</summary>
    private async Task<bool> WaitForMoreAsync(TimeSpan wait)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_abandon.Token);
        timeout.CancelAfter(wait);
        try
        {
            return await _buffer.Reader.WaitToReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!_abandon.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task WriteWithRetryAsync(List<PredictionRecord> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var delay = TimeSpan.FromMilliseconds(100);
        var maxDelay = TimeSpan.FromMilliseconds(_options.MaxRetryDelayMilliseconds);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await WriteAsync(batch, _abandon.Token);
                _written.Add(batch.Count);
                if (attempt > 1)
                {
                    LogRecovered(batch.Count, attempt);
                }

                return;
            }
            catch (PostgresException exception) when (exception.SqlState.StartsWith("22", StringComparison.Ordinal))
            {
                // A data exception (e.g. a \u0000 that jsonb refuses) is not transient: halve the batch
                // until the record at fault stands alone, write the rest, and count that one as dropped.
                if (batch.Count == 1)
                {
                    Interlocked.Increment(ref _droppedTotal);
                    _dropped.Add(1, new KeyValuePair<string, object?>("model", batch[0].Model));
                    LogRecordRefused(exception, batch[0].PredictionId);
                    return;
                }

                var half = batch.Count / 2;
                await WriteWithRetryAsync(batch.GetRange(0, half));
                await WriteWithRetryAsync(batch.GetRange(half, batch.Count - half));
                return;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && !_abandon.IsCancellationRequested)
            {
                LogWriteFailed(exception, batch.Count, attempt, delay.TotalMilliseconds);
                await Task.Delay(delay, _time, _abandon.Token);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxDelay.Ticks));
            }
        }
    }

    private async Task WriteAsync(List<PredictionRecord> batch, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await using var copy = await connection.BeginBinaryImportAsync(Copy, cancellationToken);
        foreach (var record in batch)
        {
            await copy.StartRowAsync(cancellationToken);
            await copy.WriteAsync(record.PredictionId, NpgsqlDbType.Uuid, cancellationToken);
            await copy.WriteAsync(record.At, NpgsqlDbType.TimestampTz, cancellationToken);
            await copy.WriteAsync(record.Model, NpgsqlDbType.Text, cancellationToken);
            await copy.WriteAsync(record.Version, NpgsqlDbType.Integer, cancellationToken);
            await copy.WriteAsync(record.Shadow, NpgsqlDbType.Boolean, cancellationToken);
            await WriteNullableAsync(copy, record.EntityId, cancellationToken);
            await copy.WriteAsync(JsonSerializer.Serialize(record.Inputs), NpgsqlDbType.Jsonb, cancellationToken);
            await copy.WriteAsync(JsonSerializer.Serialize(record.Outputs), NpgsqlDbType.Jsonb, cancellationToken);
            await copy.WriteAsync(record.LatencyMicroseconds, NpgsqlDbType.Integer, cancellationToken);
            await copy.WriteAsync(record.BatchSize, NpgsqlDbType.Integer, cancellationToken);
            await WriteNullableAsync(copy, record.Caller, cancellationToken);
        }

        await copy.CompleteAsync(cancellationToken);
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter copy, string? value, CancellationToken cancellationToken) =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    private async Task MaintainPartitionsAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PartitionInterval, _time);
        while (await NextTickAsync(timer, stoppingToken))
        {
            await EnsurePartitionsAsync(stoppingToken);
        }
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Creates today's and the next <see cref="DaysAhead"/> days' partitions (UTC) where missing.
    /// A day whose rows already sit in the default partition cannot get its own (PostgreSQL refuses
    /// to move them); that day stays in the default partition, which is logged, and the next days
    /// are still created ahead of their first row.
    /// </summary>
    public async Task EnsurePartitionsAsync(CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
        for (var day = 0; day <= DaysAhead; day++)
        {
            var from = today.AddDays(day);
            try
            {
                await using var command = _database.CreateCommand(PartitionDdl(from));
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException exception)
            {
                LogPartitionFailed(exception, from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                // The database is away; the next round (or the default partition) covers the day.
                LogPartitionFailed(exception, from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    public static string PartitionName(DateOnly day) => "predictions_" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static string PartitionDdl(DateOnly day)
    {
        var from = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var to = day.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        return $"CREATE TABLE IF NOT EXISTS inference.{PartitionName(day)} PARTITION OF inference.predictions FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00')";
    }

    public override void Dispose()
    {
        _abandon.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} prediction log records failed (attempt {Attempt}); retrying in {DelayMs} ms")]
    private partial void LogWriteFailed(Exception exception, int count, int attempt, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "The database refused prediction log record {PredictionId}; it is dropped")]
    private partial void LogRecordRefused(Exception exception, Guid predictionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote {Count} prediction log records after {Attempt} attempts")]
    private partial void LogRecovered(int count, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown timed out with {Count} prediction log records unwritten")]
    private partial void LogFlushAbandoned(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not create the prediction log partition for {Day}; its rows go to the default partition")]
    private partial void LogPartitionFailed(Exception exception, string day);
}
