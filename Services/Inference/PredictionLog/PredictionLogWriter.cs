using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Flywheel.Core.Serving;
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
public sealed partial class PredictionLogWriter : BufferedBatchWriter<PredictionRecord>, IPredictionLog
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
    private readonly ILogger _logger;

    public PredictionLogWriter(
        NpgsqlDataSource database, IOptions<PredictionLogOptions> options, IMeterFactory meters, ILogger<PredictionLogWriter> logger, TimeProvider? time = null)
        : this(database, options.Value, meters.Create(MeterName), logger, time ?? TimeProvider.System)
    {
    }

    private PredictionLogWriter(NpgsqlDataSource database, PredictionLogOptions options, Meter meter, ILogger logger, TimeProvider time)
        : base("prediction log records", options.Capacity, options.BatchSize,
            TimeSpan.FromMilliseconds(options.FlushIntervalMilliseconds), TimeSpan.FromMilliseconds(options.MaxRetryDelayMilliseconds),
            meter.CreateCounter<long>(DroppedMetric, "{record}", "Prediction log records refused because the buffer was full."),
            meter.CreateCounter<long>(WrittenMetric, "{record}", "Prediction log records written to the database."),
            time, logger)
    {
        _database = database;
        _logger = logger;
        meter.CreateObservableGauge(DepthMetric, () => Depth, "{record}", "Prediction log records waiting to be written.");
    }

    public bool TryAppend(PredictionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return TryBuffer(record);
    }

    protected override string ModelOf(PredictionRecord entry) => entry.Model;

    protected override string Describe(PredictionRecord entry) => $"prediction log record {entry.PredictionId}";

    // Partitions first: a row written before its day's partition exists lands in the default
    // partition, and then that day's partition can no longer be created.
    protected override Task PrepareAsync(CancellationToken stoppingToken) => EnsurePartitionsAsync(stoppingToken);

    protected override async Task WriteAsync(IReadOnlyList<PredictionRecord> batch, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
        await using var copy = await connection.BeginBinaryImportAsync(Copy, cancellationToken);
        // One buffer for every map of the batch: each is copied into the COPY stream before the next is written.
        using var json = new ValueMapJsonBuffer();
        foreach (var record in batch)
        {
            await copy.StartRowAsync(cancellationToken);
            await copy.WriteAsync(record.PredictionId, NpgsqlDbType.Uuid, cancellationToken);
            await copy.WriteAsync(record.At, NpgsqlDbType.TimestampTz, cancellationToken);
            await copy.WriteAsync(record.Model, NpgsqlDbType.Text, cancellationToken);
            await copy.WriteAsync(record.Version, NpgsqlDbType.Integer, cancellationToken);
            await copy.WriteAsync(record.Shadow, NpgsqlDbType.Boolean, cancellationToken);
            await WriteNullableAsync(copy, record.EntityId, cancellationToken);
            await copy.WriteAsync(json.Write(record.Inputs), NpgsqlDbType.Jsonb, cancellationToken);
            await copy.WriteAsync(json.Write(record.Outputs), NpgsqlDbType.Jsonb, cancellationToken);
            await copy.WriteAsync(record.LatencyMicroseconds, NpgsqlDbType.Integer, cancellationToken);
            await copy.WriteAsync(record.BatchSize, NpgsqlDbType.Integer, cancellationToken);
            await WriteNullableAsync(copy, record.Caller, cancellationToken);
        }

        await copy.CompleteAsync(cancellationToken);
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter copy, string? value, CancellationToken cancellationToken) =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    protected override async Task MaintainAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PartitionInterval, Time);
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
        var today = DateOnly.FromDateTime(Time.GetUtcNow().UtcDateTime);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not create the prediction log partition for {Day}; its rows go to the default partition")]
    private partial void LogPartitionFailed(Exception exception, string day);
}
