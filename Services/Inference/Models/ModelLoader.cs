using System.Security.Cryptography;
using System.Text.Json;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Flywheel.Core.Artifacts;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Inference.Serving;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Inference.Models;

/// <summary>
/// Keeps <see cref="ServedModels"/> in step with the deployments: on every change (and every few
/// seconds, which also picks up serving settings) it loads the versions a deployment names in the
/// background — artifact to the local disk cache, SHA-256 checked against the registry before any
/// session exists — and swaps each model's new set in whole. A version that fails its check is
/// refused, logged with both hashes and deleted from the cache; the version serving stays.
/// Versions no deployment names any more are retired and disposed once their requests finish.
/// </summary>
public sealed partial class ModelLoader(
    DeploymentCatalog catalog,
    ServedModels served,
    NpgsqlDataSource database,
    BlobServiceClient blobs,
    InferenceMetrics metrics,
    SessionFactory sessions,
    IOptions<InferenceOptions> options,
    ILogger<ModelLoader> logger) : BackgroundService
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(2);

    /// <summary>How long a refused or failed version waits before it is tried again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(1);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private readonly SemaphoreSlim _wake = new(0);
    private readonly Dictionary<(string Model, int Version), DateTimeOffset> _failed = [];
    private readonly InferenceOptions _options = options.Value;
    private volatile bool _reconciled;

    /// <summary>True once every deployment seen at start has been through one load attempt.</summary>
    public bool Reconciled => _reconciled;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Directory.CreateDirectory(_options.ResolveCacheDirectory());
        catalog.Changed += _ => _wake.Release();
        try
        {
            await catalog.Loaded.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(stoppingToken);
                _reconciled = true;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogReconcileFailed(exception);
            }

            try
            {
                await _wake.WaitAsync(RefreshInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var deployments = catalog.Current;
        foreach (var gone in served.Names.Where(name => !deployments.ContainsKey(name)))
        {
            RetireAll(served.Swap(gone, null), keep: null);
        }

        foreach (var deployment in deployments.Values)
        {
            try
            {
                await ReconcileModelAsync(deployment, cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogModelFailed(exception, deployment.Model);
            }
        }
    }

    private async Task ReconcileModelAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        var (schema, settings) = await ReadModelAsync(deployment.Model, cancellationToken);
        served.TryGet(deployment.Model, out var previous);
        var versions = new Dictionary<int, LoadedVersion>();
        foreach (var version in deployment.Versions)
        {
            if (previous?.Versions.TryGetValue(version, out var loaded) == true)
            {
                versions[version] = loaded;
                continue;
            }

            if (_failed.TryGetValue((deployment.Model, version), out var failedAt) && DateTimeOffset.UtcNow - failedAt < RetryAfter)
            {
                continue;
            }

            if (served.LoadedSessions + versions.Count(v => previous?.Versions.ContainsKey(v.Key) != true) >= _options.MaxLoadedVersions)
            {
                LogTooManyVersions(deployment.Model, version, _options.MaxLoadedVersions);
                continue;
            }

            if (await LoadAsync(deployment.Model, version, schema, cancellationToken) is { } fresh)
            {
                versions[version] = fresh;
                _failed.Remove((deployment.Model, version));
            }
            else
            {
                _failed[(deployment.Model, version)] = DateTimeOffset.UtcNow;
            }
        }

        var production = deployment.Production;
        if (!versions.ContainsKey(production) && previous is { Ready: true } &&
            previous.Versions.TryGetValue(previous.Production, out var serving))
        {
            // The new production version could not be loaded: the one serving keeps serving.
            production = previous.Production;
            versions[production] = serving;
        }

        var next = new ServingSet(deployment.Model, schema, settings, deployment, production, versions);
        if (previous is not null && previous.Production == next.Production && previous.Deployment == next.Deployment &&
            previous.Settings == next.Settings && previous.Schema.Features.SequenceEqual(next.Schema.Features) &&
            previous.Versions.Count == next.Versions.Count && previous.Versions.All(v => next.Versions.TryGetValue(v.Key, out var same) && same == v.Value))
        {
            return;
        }

        foreach (var version in versions.Values.Where(v => v.Batcher is null))
        {
            version.Batcher = new Batcher(version, () => served.TryGet(deployment.Model, out var set) ? set.Settings : ServingSettings.Default,
                metrics, _options.QueueCapacity, Math.Max(1, Environment.ProcessorCount / _options.IntraOpThreads),
                _options.ResolveScoringSlots(Environment.ProcessorCount));
        }

        RetireAll(served.Swap(deployment.Model, next), keep: next);
        if (previous?.Production != next.Production || previous?.Ready != next.Ready)
        {
            LogServing(deployment.Model, next.Production, next.Ready, string.Join(", ", next.Versions.Keys.Order()));
        }
    }

    private void RetireAll(ServingSet? previous, ServingSet? keep)
    {
        foreach (var version in previous?.Versions.Values ?? [])
        {
            if (keep?.Versions.Values.Contains(version) != true)
            {
                LogRetired(version.Model, version.Version);
                version.Retire();
            }
        }
    }

    private async Task<(ModelSchema Schema, ServingSettings Settings)> ReadModelAsync(string model, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT task, entity_key, features::text, target::text, serving::text FROM registry.models WHERE name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException($"The deployed model '{model}' does not exist.");
        }

        var schema = new ModelSchema(
            model,
            JsonSerializer.Deserialize<ModelTask>($"\"{reader.GetString(0)}\"", Json),
            JsonSerializer.Deserialize<List<FeatureDefinition>>(reader.GetString(2), Json)!,
            JsonSerializer.Deserialize<TargetDefinition>(reader.GetString(3), Json)!,
            reader.IsDBNull(1) ? null : reader.GetString(1));
        var settings = JsonSerializer.Deserialize<ServingSettings>(reader.GetString(4), Json) ?? ServingSettings.Default;
        return (schema, settings);
    }

    private async Task<LoadedVersion?> LoadAsync(string model, int version, ModelSchema schema, CancellationToken cancellationToken)
    {
        string uri, expected;
        await using (var command = database.CreateCommand(
            "SELECT artifact_uri, artifact_sha256 FROM registry.model_versions WHERE model = $1 AND version = $2"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = model });
            command.Parameters.Add(new NpgsqlParameter { Value = version });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                LogVersionMissing(model, version);
                return null;
            }

            (uri, expected) = (reader.GetString(0), reader.GetString(1).ToLowerInvariant());
        }

        var container = blobs.GetBlobContainerClient(BlobContainers.Models);
        if (ArtifactLocation.BlobName(container.Uri, uri) is not { } name)
        {
            LogOutsideContainer(model, version, uri);
            return null;
        }

        var path = Path.Combine(_options.ResolveCacheDirectory(), $"{model}-{expected}.onnx");
        try
        {
            if (!File.Exists(path))
            {
                var partial = path + "." + Guid.NewGuid().ToString("N") + ".part";
                await container.GetBlobClient(name).DownloadToAsync(partial, cancellationToken);
                File.Move(partial, path, overwrite: true);
            }

            string actual;
            await using (var file = File.OpenRead(path))
            {
                actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
            }

            if (actual != expected)
            {
                // Invariant 3: no session is ever created from bytes the registry did not vouch for.
                LogHashMismatch(model, version, expected, actual, uri);
                File.Delete(path);
                return null;
            }

            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
            var loaded = await Task.Run(() => sessions.Load(model, version, expected, schema, path), cancellationToken);
            EvictCache(keep: path);
            return loaded;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogLoadFailed(exception, model, version);
            return null;
        }
    }

    private void EvictCache(string keep)
    {
        var files = new DirectoryInfo(_options.ResolveCacheDirectory()).GetFiles("*.onnx")
            .Where(f => f.FullName != Path.GetFullPath(keep))
            .OrderByDescending(f => f.LastWriteTimeUtc)
            .Skip(_options.MaxCachedFiles - 1);
        foreach (var file in files)
        {
            // A loaded session no longer needs its file; a later load downloads it again.
            file.Delete();
        }
    }



    [LoggerMessage(Level = LogLevel.Error, Message = "Refused {Model} v{Version}: the artifact {Uri} hashes to {Actual}, not the registered {Expected}; the version serving stays")]
    private partial void LogHashMismatch(string model, int version, string expected, string actual, string uri);

    [LoggerMessage(Level = LogLevel.Error, Message = "Loading {Model} v{Version} failed; the version serving stays")]
    private partial void LogLoadFailed(Exception exception, string model, int version);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Model} v{Version} is deployed but not registered")]
    private partial void LogVersionMissing(string model, int version);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Model} v{Version} names an artifact outside the models container: {Uri}")]
    private partial void LogOutsideContainer(string model, int version, string uri);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not loading {Model} v{Version}: {Max} sessions are loaded already (Flywheel:Inference:MaxLoadedVersions)")]
    private partial void LogTooManyVersions(string model, int version, int max);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Model} serves v{Production} (ready: {Ready}; loaded: {Versions})")]
    private partial void LogServing(string model, int production, bool ready, string versions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retired {Model} v{Version}; its session goes when its last request is done")]
    private partial void LogRetired(string model, int version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Updating the served models failed; the current sets stay")]
    private partial void LogReconcileFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Updating {Model} failed; its current set stays")]
    private partial void LogModelFailed(Exception exception, string model);
}
