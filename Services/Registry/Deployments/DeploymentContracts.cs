using System.Text.Json;

namespace Flywheel.Registry.Deployments;

/// <summary>A model's current traffic as the API shows it (API.md, "Deployments").</summary>
public sealed record DeploymentView(
    string Model,
    long Revision,
    int Production,
    CanaryTraffic? Canary,
    ShadowTraffic? Shadow,
    string? StickyBy,
    DateTimeOffset UpdatedAt,
    string UpdatedBy,
    string? Reason);

public sealed record DeploymentList(IReadOnlyList<DeploymentView> Deployments);

/// <summary>The body of <c>POST /api/models/{model}/rollback</c>; without a version, the previous production.</summary>
public sealed record RollbackRequest(int? Version = null, string? Reason = null);

/// <summary>
/// One traffic change. <c>deployment</c> and <c>previous</c> are the deployment after and before
/// it, as written by whoever made the change (registry or orchestrator).
/// </summary>
public sealed record DeploymentHistoryEntry(
    long Revision,
    DateTimeOffset At,
    string Actor,
    string Action,
    string? Reason,
    JsonElement Deployment,
    JsonElement? Previous);

public sealed record DeploymentHistory(string Model, IReadOnlyList<DeploymentHistoryEntry> History);
