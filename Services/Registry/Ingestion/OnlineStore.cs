using System.Globalization;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Core.Schema;
using StackExchange.Redis;

namespace Flywheel.Registry.Ingestion;

/// <summary>
/// The online feature store: for each model and entity, a Redis hash of the latest feature values
/// (<c>online:{model}:{entity}</c>), written on ingestion and read at serving time. A row only
/// replaces the stored values when its event time is not older than theirs, so late or
/// out-of-order data never overwrites fresher values. Rows without an event time count as now.
/// </summary>
public sealed class OnlineStore(IConnectionMultiplexer redis, ILogger<OnlineStore> logger)
{
    public const string EventTimeField = OnlineStoreLayout.EventTimeField;

    // Compare and set in one step on the server: no reader sees a half-written entity.
    private static readonly LuaScript SetIfNewer = LuaScript.Prepare("""
        local current = redis.call('HGET', @key, '_event_time')
        if current and tonumber(current) > tonumber(@time) then return 0 end
        redis.call('HSET', @key, '_event_time', @time, unpack(cjson.decode(@fields)))
        return 1
        """);

    public static RedisKey Key(string model, string entity) => OnlineStoreLayout.Key(model, entity);

    public async Task UpdateAsync(string model, IReadOnlyList<RowValidation> rows)
    {
        var database = redis.GetDatabase();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Only each entity's newest row in the batch can win, so only that one is sent.
        var latest = rows.Where(r => r.EntityId is not null)
            .GroupBy(r => r.EntityId!, StringComparer.Ordinal)
            .Select(entity => entity.MaxBy(r => r.EventTime?.ToUnixTimeMilliseconds() ?? now)!);
        var writes = latest.Select(row =>
        {
            var fields = new List<string>(row.Features.Count * 2);
            foreach (var (name, value) in row.Features)
            {
                fields.Add(name);
                fields.Add(JsonSerializer.Serialize(value));
            }

            var time = row.EventTime?.ToUnixTimeMilliseconds() ?? now;
            return database.ScriptEvaluateAsync(SetIfNewer, new
            {
                key = Key(model, row.EntityId!),
                time = time.ToString(CultureInfo.InvariantCulture),
                fields = JsonSerializer.Serialize(fields),
            });
        }).ToList();

        try
        {
            await Task.WhenAll(writes);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The rows are committed in the offline store; serving sees older values until the next write.
            logger.LogWarning(ex, "The online store for {Model} could not be updated for {Count} rows", model, writes.Count);
        }
    }

    /// <summary>The latest values of an entity's features, with the event time they are from; null if it has none.</summary>
    public async Task<OnlineFeatures?> GetAsync(string model, string entity)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(Key(model, entity));
        if (entries.Length == 0)
        {
            return null;
        }

        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        DateTimeOffset? eventTime = null;
        foreach (var entry in entries)
        {
            if (entry.Name == EventTimeField)
            {
                eventTime = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(entry.Value.ToString(), CultureInfo.InvariantCulture));
            }
            else
            {
                values[entry.Name!] = JsonDocument.Parse(entry.Value.ToString()).RootElement;
            }
        }

        return new OnlineFeatures(entity, eventTime, values);
    }
}

public sealed record OnlineFeatures(string EntityId, DateTimeOffset? EventTime, IReadOnlyDictionary<string, JsonElement> Features);
