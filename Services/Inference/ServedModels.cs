using System.Collections.Concurrent;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.Inference.Models;

namespace Flywheel.Inference;

/// <summary>
/// What one model serves right now: its schema and settings, the deployment, and the loaded
/// versions. Immutable: the loader builds a new one and swaps it in whole, so a request sees
/// either the old set or the new one, never a mix. <see cref="Production"/> stays on the version
/// that was serving when the deployment's new production version could not be loaded.
/// </summary>
public sealed record ServingSet(
    string Model,
    ModelSchema Schema,
    ServingSettings Settings,
    Deployment Deployment,
    int Production,
    IReadOnlyDictionary<int, LoadedVersion> Versions)
{
    public bool Ready => Versions.ContainsKey(Production);
}

/// <summary>Why a request found no version to score with.</summary>
public enum LeaseFailure
{
    None,
    ModelNotDeployed,
    VersionNotDeployed,
    VersionNotLoaded,
}

/// <summary>A request's hold on one version: the session is not disposed until it is released.</summary>
public readonly record struct VersionLease(ServingSet Set, LoadedVersion Version) : IDisposable
{
    public void Dispose() => Version.Release();
}

/// <summary>
/// The models this worker serves, by name, each an atomically swapped <see cref="ServingSet"/>.
/// A model appears once a deployment names it; it is ready once its production version is loaded.
/// </summary>
public sealed class ServedModels
{
    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);

    public IReadOnlyCollection<ServingSet> All =>
        [.. _slots.Values.Select(s => Volatile.Read(ref s.Current)).OfType<ServingSet>().OrderBy(s => s.Model, StringComparer.Ordinal)];

    public IReadOnlyCollection<string> Names => [.. _slots.Keys];

    public int LoadedSessions => All.Sum(s => s.Versions.Count);

    public bool TryGet(string name, out ServingSet set)
    {
        set = null!;
        return _slots.TryGetValue(name, out var slot) && Volatile.Read(ref slot.Current) is { } current && (set = current) is not null;
    }

    /// <summary>Installs the model's new set and returns the one it replaced (null when there was none).</summary>
    public ServingSet? Swap(string model, ServingSet? next)
    {
        if (next is null)
        {
            return _slots.TryRemove(model, out var removed) ? Interlocked.Exchange(ref removed.Current, null) : null;
        }

        return Interlocked.Exchange(ref _slots.GetOrAdd(model, _ => new Slot()).Current, next);
    }

    /// <summary>
    /// Leases the version a request asked for (production when <paramref name="version"/> is null).
    /// Retrying covers the instant between reading a set and a swap retiring its version.
    /// </summary>
    public LeaseFailure TryLease(string model, int? version, out VersionLease lease, string? role = null)
    {
        lease = default;
        while (true)
        {
            if (!TryGet(model, out var set))
            {
                return LeaseFailure.ModelNotDeployed;
            }

            var wanted = version ?? role switch
            {
                // The canary takes its share once it is loaded here; until then production answers.
                TrafficRoles.Canary when set.Deployment.Canary?.Version is { } canary && set.Versions.ContainsKey(canary) => canary,
                TrafficRoles.Shadow when set.Deployment.Shadow?.Version is { } shadow => shadow,
                TrafficRoles.Shadow => 0,
                _ => set.Production,
            };
            if (wanted == 0)
            {
                return LeaseFailure.VersionNotDeployed;
            }

            if (version is { } asked && !set.Deployment.Versions.Contains(asked) && asked != set.Production)
            {
                return LeaseFailure.VersionNotDeployed;
            }

            if (!set.Versions.TryGetValue(wanted, out var loaded))
            {
                return LeaseFailure.VersionNotLoaded;
            }

            if (loaded.TryAcquire())
            {
                lease = new VersionLease(set, loaded);
                return LeaseFailure.None;
            }
        }
    }

    private sealed class Slot
    {
        public ServingSet? Current;
    }
}
