using System.Diagnostics;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Core.Serving;
using Flywheel.Inference.PredictionLog;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Flywheel.Inference.Serving;

/// <summary>Who asked, as the gateway says: shadow traffic and the calling key's name, for the log.</summary>
public sealed record PredictionContext(string Protocol, bool Shadow, string? Caller, long StartedAt);

/// <summary>
/// Each row's answer (raw, and as the caller and the log see it), prediction id, whether the cache
/// gave it, and the ONNX Runtime batch it ran in.
/// </summary>
public sealed record Predictions(
    ScoredRow[] Rows, IReadOnlyDictionary<string, object?>[] Outputs, Guid[] PredictionIds, bool[] Cached, int BatchSize);

/// <summary>A leased version failed to score valid rows (the model's fault, not the request's): answered as 500 and logged as the version's error.</summary>
public sealed class ScoringFailedException(string model, int version, Exception inner)
    : Exception($"Version {version} of '{model}' failed to score the request: {inner.Message}", inner)
{
    public string Model { get; } = model;

    public int Version { get; } = version;
}

/// <summary>
/// Scores validated rows with a leased version: the prediction cache first where the model opts
/// in (a Redis failure only means computing), the rest through the version's batcher, then one
/// prediction log record per row — appended without waiting.
/// </summary>
public sealed partial class Predictor(
    IConnectionMultiplexer redis,
    InferenceMetrics metrics,
    IOptions<InferenceOptions> options,
    IPredictionLog log,
    IPredictionErrorLog errors,
    PiiRedaction pii,
    ILogger<Predictor> logger)
{
    /// <summary>The latest stored features of each entity, in one round trip; entities with none are absent.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, JsonElement>>> ReadOnlineAsync(string model, IReadOnlyList<string> entities)
    {
        var found = new Dictionary<string, IReadOnlyDictionary<string, JsonElement>>(StringComparer.Ordinal);
        if (entities.Count == 0)
        {
            return found;
        }

        var batch = redis.GetDatabase().CreateBatch();
        var reads = entities.Select(entity => batch.HashGetAllAsync(OnlineStoreLayout.Key(model, entity))).ToArray();
        batch.Execute();
        var entries = await Task.WhenAll(reads);
        for (var i = 0; i < entities.Count; i++)
        {
            if (entries[i].Length == 0)
            {
                continue;
            }

            var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var entry in entries[i])
            {
                if (entry.Name != OnlineStoreLayout.EventTimeField)
                {
                    values[entry.Name!] = JsonDocument.Parse(entry.Value.ToString()).RootElement.Clone();
                }
            }

            found[entities[i]] = values;
        }

        return found;
    }

    public async Task<Predictions> PredictAsync(
        VersionLease lease,
        IReadOnlyList<IReadOnlyDictionary<string, object?>> rows,
        IReadOnlyList<string?> entityIds,
        PredictionContext context,
        CancellationToken cancellationToken)
    {
        var (set, version) = (lease.Set, lease.Version);
        var scored = new ScoredRow?[rows.Count];
        var cached = new bool[rows.Count];
        RedisKey[]? keys = null;
        if (set.Settings.CacheEnabled)
        {
            keys = [.. rows.Select(row => (RedisKey)PredictionCacheKey.Compute(set.Model, version.Version, row))];
            try
            {
                var values = await redis.GetDatabase().StringGetAsync(keys);
                for (var i = 0; i < values.Length; i++)
                {
                    if (values[i].HasValue && FromCache(values[i].ToString()) is { } hit)
                    {
                        scored[i] = hit;
                        cached[i] = true;
                    }
                }
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException or JsonException)
            {
                LogCacheFailed(exception, set.Model);
            }

            var hits = cached.Count(c => c);
            metrics.Cache(set.Model, version.Version, hits, rows.Count - hits);
        }

        ScoredRow[] answered;
        IReadOnlyDictionary<string, object?>[] described;
        int batchSize;
        try
        {
            (batchSize, answered, described) = await ScoreMissingAsync(lease, rows, scored, keys, cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The version failed a valid request: the caller gets a 500 that says so, and the
            // failure is the version's error for the canary analysis.
            errors.TryAppend(new PredictionError(
                DateTimeOffset.UtcNow, set.Model, version.Version, context.Shadow, rows.Count, StatusCodes.Status500InternalServerError, exception.Message, context.Caller));
            LogScoringFailed(exception, set.Model, version.Version, rows.Count);
            throw new ScoringFailedException(set.Model, version.Version, exception);
        }

        var ids = new Guid[rows.Count];
        // The rows of one request share its answer time, caller and latency: that is how the canary
        // analysis counts a request's latency once rather than once per row.
        var answeredAt = DateTimeOffset.UtcNow;
        var latency = (int)Math.Min(int.MaxValue, Stopwatch.GetElapsedTime(context.StartedAt).Ticks / 10);
        for (var i = 0; i < rows.Count; i++)
        {
            ids[i] = Guid.CreateVersion7();
            var outputs = described[i];
            if (cached[i])
            {
                outputs = new Dictionary<string, object?>(outputs, StringComparer.Ordinal) { [PredictionOutputs.CachedKey] = true };
            }

            log.TryAppend(new PredictionRecord(
                ids[i], answeredAt, set.Model, version.Version, context.Shadow, entityIds.Count > i ? entityIds[i] : null,
                pii.Redact(set.Schema, rows[i]), outputs, latency, cached[i] ? 0 : batchSize, context.Caller));
        }

        return new Predictions(answered, described, ids, cached, batchSize);
    }

    private async ValueTask<(int BatchSize, ScoredRow[] Answered, IReadOnlyDictionary<string, object?>[] Described)> ScoreMissingAsync(
        VersionLease lease, IReadOnlyList<IReadOnlyDictionary<string, object?>> rows, ScoredRow?[] scored, RedisKey[]? keys, CancellationToken cancellationToken)
    {
        var (set, version) = (lease.Set, lease.Version);
        var missing = Missing(scored);
        var batchSize = 0;
        if (missing.Length > 0)
        {
            var toScore = missing.Length == rows.Count ? rows : [.. missing.Select(i => rows[i])];
            BatchResult result;
            if (options.Value.Batching && version.Batcher is { } batcher)
            {
                result = await batcher.ScoreAsync(toScore, cancellationToken);
            }
            else
            {
                metrics.BatchSize(version, toScore.Count);
                result = new BatchResult(version.Score(toScore), toScore.Count);
            }

            batchSize = result.BatchSize;
            for (var k = 0; k < missing.Length; k++)
            {
                scored[missing[k]] = result.Rows[k];
            }

            if (keys is not null)
            {
                WriteCache(keys, missing, result.Rows, TimeSpan.FromSeconds(set.Settings.CacheTtlSeconds), set.Model);
            }
        }

        var answered = new ScoredRow[scored.Length];
        var described = new IReadOnlyDictionary<string, object?>[scored.Length];
        for (var i = 0; i < scored.Length; i++)
        {
            answered[i] = scored[i]!;
            described[i] = PredictionOutputs.Describe(set.Schema, version.Classes, answered[i]);
        }

        return (batchSize, answered, described);
    }

    /// <summary>The rows the cache did not answer, in order.</summary>
    private static int[] Missing(ScoredRow?[] scored)
    {
        var count = 0;
        foreach (var row in scored)
        {
            count += row is null ? 1 : 0;
        }

        var missing = new int[count];
        for (int i = 0, k = 0; i < scored.Length; i++)
        {
            if (scored[i] is null)
            {
                missing[k++] = i;
            }
        }

        return missing;
    }

    private void WriteCache(RedisKey[] keys, int[] rows, ScoredRow[] scored, TimeSpan ttl, string model)
    {
        try
        {
            var database = redis.GetDatabase();
            for (var k = 0; k < rows.Length; k++)
            {
                database.StringSet(keys[rows[k]], ToCache(scored[k]), ttl, flags: CommandFlags.FireAndForget);
            }
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogCacheFailed(exception, model);
        }
    }

    internal static string ToCache(ScoredRow row) =>
        JsonSerializer.Serialize(new CachedRow(row.Label, row.Scores, row.Probability));

    internal static ScoredRow? FromCache(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        object? label = root.GetProperty("l").ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String => root.GetProperty("l").GetString(),
            _ => null,
        };
        var scores = root.GetProperty("s").EnumerateArray().Select(s => s.GetSingle()).ToArray();
        float? probability = root.GetProperty("p").ValueKind == JsonValueKind.Number ? root.GetProperty("p").GetSingle() : null;
        return new ScoredRow(label, scores, probability);
    }

    private sealed record CachedRow(
        [property: System.Text.Json.Serialization.JsonPropertyName("l")] object? Label,
        [property: System.Text.Json.Serialization.JsonPropertyName("s")] float[] Scores,
        [property: System.Text.Json.Serialization.JsonPropertyName("p")] float? Probability);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Model} v{Version} failed to score a request of {Rows} rows")]
    private partial void LogScoringFailed(Exception exception, string model, int version, int rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The prediction cache for {Model} failed; computing instead")]
    private partial void LogCacheFailed(Exception exception, string model);
}
