namespace Flywheel.Core.Schema;

public enum FeatureType
{
    Numeric,
    Categorical,
    Boolean,
}

public enum ModelTask
{
    Binary,
    Multiclass,
    Regression,
}

/// <summary>
/// One input column of a model. <see cref="Min"/>/<see cref="Max"/> bound numeric features;
/// <see cref="Categories"/>, when given, is the closed set a categorical feature may take.
/// A PII feature is hashed or dropped before anything is logged.
/// </summary>
public sealed record FeatureDefinition(
    string Name,
    FeatureType Type,
    bool Nullable = false,
    double? Min = null,
    double? Max = null,
    IReadOnlyList<string>? Categories = null,
    bool Pii = false);

public sealed record TargetDefinition(string Name, FeatureType Type);

/// <summary>What a model takes and predicts: the contract every row, training set and request is checked against.</summary>
public sealed record ModelSchema(
    string Name,
    ModelTask Task,
    IReadOnlyList<FeatureDefinition> Features,
    TargetDefinition Target,
    string? EntityKey = null)
{
    /// <summary>Columns every data file and event may carry besides the features and the target.</summary>
    public static readonly IReadOnlySet<string> ReservedColumns = new HashSet<string>(StringComparer.Ordinal)
    {
        "event_time", "entity_id", "event_id",
    };

    public const int MaxFeatures = 1000;
    public const int MaxNameLength = 64;
    public const int MaxCategories = 10_000;
}
