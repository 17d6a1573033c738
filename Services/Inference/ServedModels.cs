using System.Collections.Concurrent;

namespace Flywheel.Inference;

/// <summary>
/// The models this worker serves, by name. A model appears here once a deployment names it and
/// its session is loaded; until then the protocols answer "not found".
/// </summary>
public sealed class ServedModels
{
    private readonly ConcurrentDictionary<string, ServedModel> _models = new(StringComparer.Ordinal);

    public IReadOnlyCollection<ServedModel> All => [.. _models.Values.OrderBy(m => m.Name, StringComparer.Ordinal)];

    public bool TryGet(string name, out ServedModel model) => _models.TryGetValue(name, out model!);
}

public sealed record ServedModel(string Name, int Version, string Platform, bool Ready);
