using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace Flywheel.Inference.PredictionLog;

/// <summary>
/// A request a leased version failed to answer (the model could not score it): what the canary
/// analysis counts as that version's errors. Requests refused before a version was chosen (bad
/// input, unknown model, overload) are not the version's errors and are not recorded here.
/// </summary>
public sealed record PredictionError(DateTimeOffset At, string Model, int Version, bool Shadow, int Rows, int Status, string Error, string? Caller);

/// <summary>The error log as the request path sees it: appending never waits.</summary>
public interface IPredictionErrorLog
{
    /// <summary>Queues the error for the next write; false when the bounded buffer is full (counted, never blocking).</summary>
    bool TryAppend(PredictionError error);
}

/// <summary>
/// Writes failed predictions to <c>inference.prediction_errors</c> off the request path, in
/// batches, like the prediction log: a bounded buffer that refuses (and counts) the newest entry
/// when full, a failed write retried with backoff, and what is buffered written on graceful stop.
/// Failures are rare, so one INSERT per batch is plenty.
/// </summary>
public sealed partial class PredictionErrorWriter : BackgroundService, IPredictionErrorLog
{
    public const int Capacity = 10_000;
    public const int BatchSize = 500;
    public const string DroppedMetric = "flywheel.inference.prediction_errors.dropped";

    /// <summary>Error texts are kept to this many characters.</summary>
    public const int MaxErrorLength = 2_000;

    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly NpgsqlDataSource _database;
    private readonly ILogger<PredictionErrorWriter> _logger;
    private readonly Channel<PredictionError> _buffer =
        Channel.CreateBounded<PredictionError>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private readonly Counter<long> _dropped;
    private readonly CancellationTokenSource _abandon = new();

    public PredictionErrorWriter(NpgsqlDataSource database, IMeterFactory meters, ILogger<PredictionErrorWriter> logger)
    {
        _database = database;
        _logger = logger;
        _dropped = meters.Create(PredictionLogWriter.MeterName)
            .CreateCounter<long>(DroppedMetric, "{error}", "Failed predictions not recorded because the error buffer was full.");
    }

    public bool TryAppend(PredictionError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var kept = error.Error.Length > MaxErrorLength ? error with { Error = error.Error[..MaxErrorLength] } : error;
        if (_buffer.Writer.TryWrite(kept))
        {
            return true;
        }

        _dropped.Add(1, new KeyValuePair<string, object?>("model", error.Model));
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
                    LogAbandoned(_buffer.Reader.Count);
                }
            }
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Like the prediction log: stopping means "write what is buffered, then end".
        var batch = new List<PredictionError>(BatchSize);
        try
        {
            while (await _buffer.Reader.WaitToReadAsync(_abandon.Token))
            {
                // Errors tend to come in bursts: gather a moment's worth into one INSERT.
                await Task.Delay(FlushInterval, _abandon.Token);
                while (batch.Count < BatchSize && _buffer.Reader.TryRead(out var error))
                {
                    batch.Add(error);
                }

                await WriteWithRetryAsync(batch);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
        {
            LogAbandoned(batch.Count + _buffer.Reader.Count);
        }
    }

    private async Task WriteWithRetryAsync(List<PredictionError> batch)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await WriteAsync(batch, _abandon.Token);
                return;
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException && !_abandon.IsCancellationRequested)
            {
                if (exception is PostgresException { SqlState: var state } && state.StartsWith("22", StringComparison.Ordinal))
                {
                    // Not transient (a value the database refuses): these entries cannot be written.
                    _dropped.Add(batch.Count);
                    LogRefused(exception, batch.Count);
                    return;
                }

                LogWriteFailed(exception, batch.Count, attempt, delay.TotalMilliseconds);
                await Task.Delay(delay, _abandon.Token);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    private async Task WriteAsync(List<PredictionError> batch, CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand("""
            INSERT INTO inference.prediction_errors (at, model, version, shadow, rows, status, error, caller)
            SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::integer[], $4::boolean[], $5::integer[], $6::integer[], $7::text[], $8::text[])
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.At).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.Model).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.Version).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.Shadow).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.Rows).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.Status).ToArray() });
        // PostgreSQL text cannot hold NUL; an ONNX Runtime message never needs one.
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.Error.Replace("\0", string.Empty, StringComparison.Ordinal)).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(e => e.Caller).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _abandon.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} failed predictions to the error log failed (attempt {Attempt}); retrying in {DelayMs} ms")]
    private partial void LogWriteFailed(Exception exception, int count, int attempt, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "The database refused {Count} failed predictions for the error log; they are dropped")]
    private partial void LogRefused(Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown timed out with {Count} failed predictions unwritten")]
    private partial void LogAbandoned(int count);
}
