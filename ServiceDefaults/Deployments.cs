using System.Collections.Frozen;
using Flywheel.Contracts.Serving;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>A model's current traffic: production, an optional canary and shadow, and how assignment sticks.</summary>
public sealed record Deployment(
    string Model,
    long Revision,
    int Production,
    CanaryTraffic? Canary,
    ShadowTraffic? Shadow,
    string? StickyBy,
    DateTimeOffset UpdatedAt)
{
    /// <summary>Every version this deployment sends traffic to, production first.</summary>
    public IReadOnlyList<int> Versions =>
        [.. new[] { Production, Canary?.Version, Shadow?.Version }.OfType<int>().Distinct()];
}

public sealed record CanaryTraffic(int Version, double Percent, bool AutoPromote);

public sealed record ShadowTraffic(int Version, double Percent);

/// <summary>
/// Every model's current deployment, read from <c>registry.deployments</c> and kept current by
/// LISTEN on <see cref="NotifyChannels.Deployments"/> (the table's trigger notifies on every
/// change), with a periodic reload as a backstop for a dropped connection. Readers see an
/// immutable snapshot swapped atomically; a failed reload keeps the last good one.
/// </summary>
public sealed partial class DeploymentCatalog(NpgsqlDataSource database, ILogger<DeploymentCatalog> logger) : BackgroundService
{
    public static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(5);

    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _wake = new(0);
    private FrozenDictionary<string, Deployment> _current = FrozenDictionary<string, Deployment>.Empty;

    /// <summary>Raised after a reload that changed anything, with the new snapshot.</summary>
    public event Action<IReadOnlyDictionary<string, Deployment>>? Changed;

    public IReadOnlyDictionary<string, Deployment> Current => _current;

    /// <summary>Completes once the first load has succeeded.</summary>
    public Task Loaded => _loaded.Task;

    public bool TryGet(string model, out Deployment deployment) => _current.TryGetValue(model, out deployment!);

    /// <summary>Reloads now (tests and callers that just wrote a deployment and want it seen at once).</summary>
    public Task ReloadAsync(CancellationToken cancellationToken) => LoadAsync(cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listening = ListenAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await LoadAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogLoadFailed(exception);
            }

            try
            {
                await _wake.WaitAsync(ReloadInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await listening;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var loaded = new Dictionary<string, Deployment>(StringComparer.Ordinal);
        await using (var command = database.CreateCommand("""
            SELECT model, revision, production, canary_version, canary_percent, auto_promote,
                   shadow_version, shadow_percent, sticky_by, updated_at
            FROM registry.deployments
            """))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var model = reader.GetString(0);
                loaded[model] = new Deployment(
                    model,
                    reader.GetInt64(1),
                    reader.GetInt32(2),
                    reader.IsDBNull(3) ? null : new CanaryTraffic(reader.GetInt32(3), reader.GetDouble(4), reader.GetBoolean(5)),
                    reader.IsDBNull(6) ? null : new ShadowTraffic(reader.GetInt32(6), reader.GetDouble(7)),
                    reader.IsDBNull(8) ? null : reader.GetString(8),
                    reader.GetFieldValue<DateTimeOffset>(9));
            }
        }

        var previous = _current;
        var changed = previous.Count != loaded.Count ||
            loaded.Any(pair => !previous.TryGetValue(pair.Key, out var before) || before != pair.Value);
        if (changed)
        {
            var next = loaded.ToFrozenDictionary(StringComparer.Ordinal);
            Interlocked.Exchange(ref _current, next);
            LogLoaded(next.Count);
            Changed?.Invoke(next);
        }

        _loaded.TrySetResult();
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, _) => _wake.Release();
                await using (var listen = new NpgsqlCommand($"LISTEN {NotifyChannels.Deployments}", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken);
                }

                // Anything that changed while no one was listening is picked up now.
                _wake.Release();
                while (!cancellationToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception exception)
            {
                LogListenFailed(exception);
                await Task.Delay(ReloadInterval, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deployments loaded: {Count} model(s) deployed")]
    private partial void LogLoaded(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Loading deployments failed; the last good set stays in force")]
    private partial void LogLoadFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for deployment changes failed; reloading every few seconds until it reconnects")]
    private partial void LogListenFailed(Exception exception);
}

public static class DeploymentCatalogExtensions
{
    /// <summary>Keeps every model's current deployment in memory (needs <c>AddDatabase</c>).</summary>
    public static TBuilder AddDeploymentCatalog<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton<DeploymentCatalog>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DeploymentCatalog>());
        return builder;
    }
}
