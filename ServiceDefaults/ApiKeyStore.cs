using System.Collections.Concurrent;
using Flywheel.Contracts;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Flywheel.Security;

/// <summary>How long <see cref="ApiKeyStore"/> trusts a key it found (a change or revocation evicts it at once by notification).</summary>
public sealed record ApiKeyCacheSettings(TimeSpan Duration)
{
    public static ApiKeyCacheSettings Default { get; } = new(TimeSpan.FromSeconds(30));
}

/// <summary>An unrevoked key as <c>registry.api_keys</c> has it.</summary>
public sealed record CallerKey(
    Guid Id, string Name, string HashHex, IReadOnlyList<string> Roles, IReadOnlyList<string>? Models, int? RequestsPerSecond, long? DailyQuota)
{
    /// <summary>Admins and operators call every model; a predictor the models its key names (all when it names none).</summary>
    public bool MayCall(string? model) =>
        Roles.Contains(Contracts.Roles.Admin) || Roles.Contains(Contracts.Roles.Operator) ||
        (Roles.Contains(Contracts.Roles.Predictor) && (Models is null || (model is not null && Models.Contains(model, StringComparer.Ordinal))));
}

/// <summary>
/// Finds the key a request presents (<c>Authorization: Bearer</c> or <c>X-Api-Key</c>, as the
/// registry reads them) by its SHA-256, for the services on the data plane (the gateway, and the
/// inference worker, which checks every call itself rather than trusting whoever reached it).
/// Found keys are cached for <see cref="ApiKeyCacheSettings.Duration"/> so the hot path does not touch the database; a change or revocation evicts a key at once
/// through LISTEN on <see cref="NotifyChannels.ApiKeys"/>. Unknown keys are remembered too, for
/// at most <see cref="UnknownKeyDuration"/> and <see cref="MaxUnknownKeys"/> of them, so a caller
/// repeating a wrong key costs no database lookup per request; creating a key notifies on the same
/// channel, so a key just created works at once (where it was presented before it existed, too).
/// </summary>
public sealed partial class ApiKeyStore(
    NpgsqlDataSource database, TimeProvider time, ApiKeyCacheSettings settings, ILogger<ApiKeyStore> logger) : BackgroundService
{
    public const int MaxKeyLength = 512;

    /// <summary>How many unknown keys are remembered at most; past that the list starts afresh, so guesses cannot fill memory.</summary>
    public const int MaxUnknownKeys = 10_000;

    /// <summary>
    /// The longest an unknown key is remembered. Creation evicts it at once by notification; this
    /// bounds the wait for a key created while no notification could arrive (the listener reconnecting).
    /// </summary>
    public static readonly TimeSpan UnknownKeyDuration = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RefreshRetryDelay = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Cached> _cache = new(StringComparer.Ordinal);

    // Unknown keys' hashes, with when each stops being trusted as unknown.
    private readonly ConcurrentDictionary<string, long> _unknown = new(StringComparer.Ordinal);
    private readonly TimeSpan _cacheDuration = settings.Duration;
    private readonly TimeSpan _unknownDuration = settings.Duration < UnknownKeyDuration ? settings.Duration : UnknownKeyDuration;

    // Bumped on every eviction: a lookup that started before one must not put back what it read.
    private long _evictions;

    // Keys being read again ahead of their expiry (RefreshAt), so that a key in use never expires
    // under load: at expiry every request in flight would otherwise look it up at once.
    private readonly ConcurrentDictionary<string, byte> _refreshing = new(StringComparer.Ordinal);

    // Lookups in progress, by key hash: every request for a key that is not cached joins the one
    // lookup in progress for it, so a key that left the cache (an eviction, say) under load costs one
    // database read and one of its client's lookup budget, not one per request in flight.
    private readonly ConcurrentDictionary<string, Task<CallerKey?>> _lookups = new(StringComparer.Ordinal);
    private long _loads;

    private sealed record Cached(CallerKey Key, long RefreshAt, long ExpiresAt);

    /// <summary>Database reads of keys that were not cached, since the store started (for tests and diagnostics).</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>Cached keys being read again ahead of their expiry now (for tests and diagnostics).</summary>
    public int RefreshesInFlight => _refreshing.Count;

    /// <summary>The key the request presents, or null when it presents none.</summary>
    public static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var header) && header.Count == 1 && !string.IsNullOrEmpty(header[0]))
        {
            return header[0];
        }

        return Presented(apiKey: null, request.Headers.Authorization.ToString());
    }

    /// <summary>
    /// The key from a request's one <c>X-Api-Key</c> value (null when it has none, or more than one)
    /// and its <c>Authorization</c>: the API key when it is not empty, else a bearer token, else none.
    /// </summary>
    public static string? Presented(string? apiKey, string? authorization) =>
        !string.IsNullOrEmpty(apiKey)
            ? apiKey
            : authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) &&
              authorization["Bearer ".Length..].Trim() is { Length: > 0 } key
                ? key
                : null;

    /// <summary>
    /// Answers from memory alone: true with the key when it is cached, true with null when the
    /// value is remembered as unknown (or is longer than any key), false when only the database can say.
    /// </summary>
    public bool TryGetCached(string presented, out CallerKey? key)
    {
        key = null;
        if (presented.Length > MaxKeyLength)
        {
            return true;
        }

        return FromMemory(ApiKeyHash.Hex(ApiKeyHash.Compute(presented)), out key);
    }

    /// <summary>True with the key when it is cached, true with null when it is remembered as unknown, false otherwise.</summary>
    private bool FromMemory(string hex, out CallerKey? key)
    {
        key = null;
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(hex, out var cached) && now < cached.ExpiresAt)
        {
            key = cached.Key;
            if (now >= cached.RefreshAt && _refreshing.TryAdd(hex, 0))
            {
                _ = RefreshAsync(hex);
            }

            return true;
        }

        return _unknown.TryGetValue(hex, out var unknownUntil) && now < unknownUntil;
    }

    /// <summary>
    /// The lookup in progress for this key value, if there is one: a request that joins it needs no
    /// lookup of its own (nor a token of its client's lookup budget).
    /// </summary>
    public Task<CallerKey?>? LookupInProgress(string presented) =>
        presented.Length <= MaxKeyLength && _lookups.TryGetValue(ApiKeyHash.Hex(ApiKeyHash.Compute(presented)), out var lookup) ? lookup : null;

    /// <summary>The unrevoked key with this value, or null. Concurrent requests for a key that is not cached share one lookup.</summary>
    public async ValueTask<CallerKey?> FindAsync(string presented, CancellationToken cancellationToken)
    {
        if (presented.Length > MaxKeyLength)
        {
            return null;
        }

        var hash = ApiKeyHash.Compute(presented);
        var hex = ApiKeyHash.Hex(hash);
        if (FromMemory(hex, out var remembered))
        {
            return remembered;
        }

        // The shared lookup is not the caller's to cancel; the caller may stop waiting for it.
        return await Lookup(hash, hex).WaitAsync(cancellationToken);
    }

    private Task<CallerKey?> Lookup(byte[] hash, string hex)
    {
        while (true)
        {
            if (_lookups.TryGetValue(hex, out var running))
            {
                return running;
            }

            var lookup = new TaskCompletionSource<CallerKey?>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_lookups.TryAdd(hex, lookup.Task))
            {
                _ = CompleteAsync(lookup, hash, hex);
                return lookup.Task;
            }
        }
    }

    private async Task CompleteAsync(TaskCompletionSource<CallerKey?> lookup, byte[] hash, string hex)
    {
        try
        {
            // What it found is remembered before anyone hears it, so a request after this one finds it in memory.
            lookup.SetResult(await LoadAndRememberAsync(hash, hex));
        }
        catch (Exception exception)
        {
            lookup.SetException(exception);
        }
        finally
        {
            _lookups.TryRemove(new KeyValuePair<string, Task<CallerKey?>>(hex, lookup.Task));
        }
    }

    private async Task<CallerKey?> LoadAndRememberAsync(byte[] hash, string hex)
    {
        Interlocked.Increment(ref _loads);
        var evictionsBefore = Interlocked.Read(ref _evictions);
        var key = await LoadAsync(hash, hex, CancellationToken.None);
        // A lookup that overlapped an eviction must not put back what it read: the row may have changed since.
        var current = Interlocked.Read(ref _evictions) == evictionsBefore;
        if (key is null)
        {
            _cache.TryRemove(hex, out _);
            if (current && _unknownDuration > TimeSpan.Zero)
            {
                if (_unknown.Count >= MaxUnknownKeys)
                {
                    _unknown.Clear();
                }

                _unknown[hex] = time.GetTimestamp() + Ticks(_unknownDuration);
                if (Interlocked.Read(ref _evictions) != evictionsBefore)
                {
                    // An eviction (the key's creation, say) came between the check and the write.
                    _unknown.TryRemove(hex, out _);
                }
            }

            return null;
        }

        _unknown.TryRemove(hex, out _);
        if (current)
        {
            _cache[hex] = NewEntry(key);
            if (Interlocked.Read(ref _evictions) != evictionsBefore)
            {
                // An eviction (a revocation, say) came between the check and the write.
                _cache.TryRemove(hex, out _);
            }
        }

        return key;
    }

    /// <summary>Trusted for the cache duration; read again once four fifths of it have passed and it is still in use.</summary>
    private Cached NewEntry(CallerKey key)
    {
        var now = time.GetTimestamp();
        return new Cached(key, now + Ticks(_cacheDuration * 0.8), now + Ticks(_cacheDuration));
    }

    /// <summary>
    /// Reads a cached key again before it expires, off the request's path: still valid, it is
    /// trusted for another cache duration; revoked or gone, it is dropped, and the next request
    /// finds that out by a lookup of its own. Nothing is put back across an eviction.
    /// </summary>
    private async Task RefreshAsync(string hex)
    {
        try
        {
            var evictionsBefore = Interlocked.Read(ref _evictions);
            var key = await LoadAsync(Convert.FromHexString(hex), hex, CancellationToken.None);
            if (Interlocked.Read(ref _evictions) != evictionsBefore)
            {
                return;
            }

            if (key is null)
            {
                _cache.TryRemove(hex, out _);
            }
            else
            {
                _cache[hex] = NewEntry(key);
                if (Interlocked.Read(ref _evictions) != evictionsBefore)
                {
                    // An eviction came between the check and the write: it wins.
                    _cache.TryRemove(hex, out _);
                }
            }
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // The entry stays until it expires, tried again in a few seconds rather than by every request;
            // the request after its expiry looks the key up itself.
            if (_cache.TryGetValue(hex, out var cached))
            {
                _cache.TryUpdate(hex, cached with { RefreshAt = time.GetTimestamp() + Ticks(RefreshRetryDelay) }, cached);
            }

            LogRefreshFailed(exception.Message);
        }
        finally
        {
            _refreshing.TryRemove(hex, out _);
        }
    }

    private long Ticks(TimeSpan duration) => (long)(duration.TotalSeconds * time.TimestampFrequency);

    private async Task<CallerKey?> LoadAsync(byte[] hash, string hex, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            SELECT id, name, roles, models, requests_per_second, daily_quota
            FROM registry.api_keys WHERE key_hash = $1 AND revoked_at IS NULL
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = hash });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new CallerKey(
            reader.GetGuid(0),
            reader.GetString(1),
            hex,
            reader.GetFieldValue<string[]>(2),
            reader.IsDBNull(3) ? null : reader.GetFieldValue<string[]>(3),
            reader.IsDBNull(4) ? null : reader.GetInt32(4),
            reader.IsDBNull(5) ? null : reader.GetInt64(5));
    }

    private void Evict(string hex)
    {
        Interlocked.Increment(ref _evictions);
        var normalized = hex.Trim().ToLowerInvariant();
        _cache.TryRemove(normalized, out _);
        _unknown.TryRemove(normalized, out _);
        // A request from now on reads the key afresh rather than joining a read from before the change.
        _lookups.TryRemove(normalized, out _);
    }

    private void EvictAll()
    {
        Interlocked.Increment(ref _evictions);
        _cache.Clear();
        _unknown.Clear();
        _lookups.Clear();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, notification) => Evict(notification.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {NotifyChannels.ApiKeys}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // A change made while no one was listening would otherwise be trusted until its entry expires.
                EvictAll();
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogListenFailed(exception, _cacheDuration);
                EvictAll();
                await Task.Delay(ReconnectDelay, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading a cached API key again before it expires failed: {Reason}; it is looked up when it expires")]
    private partial void LogRefreshFailed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for API key changes failed; cached keys are trusted for at most {CacheDuration} until it reconnects")]
    private partial void LogListenFailed(Exception exception, TimeSpan cacheDuration);
}
