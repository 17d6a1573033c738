using System.Text.Json;

namespace Flywheel.Console.Platform;

public sealed record VersionList(IReadOnlyList<ModelVersionView> Versions);

/// <summary>A model version; <see cref="ReferenceProfile"/> is only sent when one version is asked for.</summary>
public sealed record ModelVersionView(
    string Model,
    int Version,
    IReadOnlyDictionary<string, double> Metrics,
    ArtifactView Artifact,
    ParityView Parity,
    LineageView Lineage,
    DateTimeOffset CreatedAt,
    ReferenceProfileView? ReferenceProfile);

public sealed record ArtifactView(string Uri, string Sha256, long Bytes);

public sealed record ParityView(double MaxAbsDiff, int Rows);

/// <summary>How a version came to be. <see cref="Split"/> is kept raw: see <c>Versions.SplitSummary</c>.</summary>
public sealed record LineageView(
    Guid RunId,
    Guid SnapshotId,
    string SnapshotSha256,
    long Rows,
    string Trainer,
    IReadOnlyDictionary<string, double> Hyperparameters,
    int Seed,
    string CodeVersion,
    int? ParentVersion,
    string Trigger,
    JsonElement? Split);

public sealed record ReferenceProfileView(long Rows, IReadOnlyList<FeatureProfileView> Features, NumericProfileView? Prediction);

/// <summary>A feature's training distribution; both <see cref="Numeric"/> and <see cref="Categorical"/> are null for PII features.</summary>
public sealed record FeatureProfileView(
    string Name,
    string Type,
    long Count,
    long Missing,
    double MissingRate,
    NumericProfileView? Numeric,
    CategoricalProfileView? Categorical);

/// <summary>The moments of a numeric profile; its quantiles and histogram are for charts, which come later.</summary>
public sealed record NumericProfileView(long Count, double Min, double Max, double Mean, double StdDev);

public sealed record CategoricalProfileView(long Count, IReadOnlyList<CategoryView> Categories, long OtherCount);

public sealed record CategoryView(string Value, long Count, double Share);
