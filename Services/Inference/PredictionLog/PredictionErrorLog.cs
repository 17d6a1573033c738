using System.Diagnostics.Metrics;
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
/// batches, as the prediction log does (<see cref="BufferedBatchWriter{T}"/>): a bounded buffer
/// that refuses (and counts) the newest entry when full, a failed write retried with backoff,
/// and what is buffered written on graceful stop. Failures are rare and come in bursts, so a
/// batch gathers for a moment and one INSERT writes it.
/// </summary>
public sealed class PredictionErrorWriter : BufferedBatchWriter<PredictionError>, IPredictionErrorLog
{
    public const int Capacity = 10_000;
    public const int BatchSize = 500;
    public const string DroppedMetric = "flywheel.inference.prediction_errors.dropped";

    /// <summary>Error texts are kept to this many characters.</summary>
    public const int MaxErrorLength = 2_000;

    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly NpgsqlDataSource _database;

    public PredictionErrorWriter(NpgsqlDataSource database, IMeterFactory meters, ILogger<PredictionErrorWriter> logger, TimeProvider? time = null)
        : base("failed predictions", Capacity, BatchSize, FlushInterval, MaxRetryDelay,
            meters.Create(PredictionLogWriter.MeterName)
                .CreateCounter<long>(DroppedMetric, "{error}", "Failed predictions not recorded because the error buffer was full."),
            written: null, time ?? TimeProvider.System, logger) =>
        _database = database;

    public bool TryAppend(PredictionError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return TryBuffer(error.Error.Length > MaxErrorLength ? error with { Error = error.Error[..MaxErrorLength] } : error);
    }

    protected override string ModelOf(PredictionError entry) => entry.Model;

    protected override string Describe(PredictionError entry) => $"a failed prediction of {entry.Model} v{entry.Version} at {entry.At:O}";

    protected override async Task WriteAsync(IReadOnlyList<PredictionError> batch, CancellationToken cancellationToken)
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
}
