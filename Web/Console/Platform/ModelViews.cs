namespace Flywheel.Console.Platform;

// The console's read models of the control plane's JSON (snake_case, API.md). Enums arrive as
// their snake_case names and are kept as strings: a value the console does not know yet still shows.

public sealed record ModelList(IReadOnlyList<ModelView> Models);

public sealed record ModelView(
    string Name,
    string Task,
    string? EntityKey,
    IReadOnlyList<FeatureView> Features,
    TargetView Target,
    ModelPolicyView? Policy,
    DateTimeOffset CreatedAt,
    string CreatedBy);

public sealed record FeatureView(
    string Name,
    string Type,
    bool Nullable,
    double? Min,
    double? Max,
    IReadOnlyList<string>? Categories,
    bool Pii);

public sealed record TargetView(string Name, string Type);

public sealed record ModelPolicyView(bool RequireApproval);
