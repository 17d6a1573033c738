using System.Collections.Concurrent;
using Flywheel.Core.Serving;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Flywheel.Gateway.Limits;

/// <summary>
/// Daily quotas, shared by every gateway replica through one Redis counter per key per UTC day.
/// The hot path never waits for Redis: it checks the total last read from Redis plus what this
/// replica admitted since, and counts locally; every <see cref="GatewayOptions.QuotaFlushInterval"/>
/// the local counts are added with INCRBY, which also returns the total across replicas.
/// So a quota can be overshot by what all replicas admit within one flush interval (and by
/// everything admitted while Redis is unreachable: quotas fail open rather than stopping
/// predictions). Counting happens for every key, so a quota set later starts from the day's
/// real usage.
/// </summary>
public sealed partial class QuotaCounter(
    IConnectionMultiplexer redis, TimeProvider time, IOptions<GatewayOptions> options, ILogger<QuotaCounter> logger) : BackgroundService
{
    private static readonly TimeSpan CounterLifetime = TimeSpan.FromDays(2);
    private static readonly TimeSpan IdleAfter = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<string, DayCount> _counts = new(StringComparer.Ordinal);
    private bool _failing;

    private sealed class DayCount(string day)
    {
        public string Day { get; } = day;

        public long Pending;

        public long Total;

        public long LastUsed;
    }

    /// <summary>Counts one request unless the key has used its quota today (null quota: always counted and allowed).</summary>
    public bool TryCount(string keyHashHex, long? quota, DateTimeOffset now)
    {
        var day = DailyQuota.Day(now);
        var count = _counts.AddOrUpdate(keyHashHex, _ => new DayCount(day), (_, existing) => existing.Day == day ? existing : new DayCount(day));
        Volatile.Write(ref count.LastUsed, time.GetTimestamp());
        if (quota is { } limit && Volatile.Read(ref count.Total) + Interlocked.Read(ref count.Pending) >= limit)
        {
            return false;
        }

        Interlocked.Increment(ref count.Pending);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.QuotaFlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }

        // Whatever was admitted since the last tick still counts.
        await FlushAsync();
    }

    private async Task FlushAsync()
    {
        var database = redis.GetDatabase();
        var idleBefore = time.GetTimestamp() - (long)(IdleAfter.TotalSeconds * time.TimestampFrequency);
        foreach (var (keyHex, count) in _counts)
        {
            var pending = Interlocked.Read(ref count.Pending);
            if (pending == 0 && Volatile.Read(ref count.LastUsed) < idleBefore)
            {
                _counts.TryRemove(new KeyValuePair<string, DayCount>(keyHex, count));
                continue;
            }

            try
            {
                // INCRBY 0 on a quiet key still reads what the other replicas counted.
                var counter = $"flywheel:quota:{keyHex}:{count.Day}";
                var total = await database.StringIncrementAsync(counter, pending);
                if (total == pending && pending > 0)
                {
                    await database.KeyExpireAsync(counter, CounterLifetime);
                }

                // Total first, then take the flushed requests off the pending count: in between a
                // reader sees them twice (refuses a little early), never zero times.
                Volatile.Write(ref count.Total, total);
                Interlocked.Add(ref count.Pending, -pending);
                if (_failing)
                {
                    _failing = false;
                    LogRecovered();
                }
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
            {
                if (!_failing)
                {
                    _failing = true;
                    LogFlushFailed(exception);
                }

                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Adding quota counts to Redis failed; quotas are enforced on this replica's counts alone until it answers")]
    private partial void LogFlushFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Quota counts reach Redis again")]
    private partial void LogRecovered();
}
