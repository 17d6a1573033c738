namespace Flywheel.Console.Platform;

// Deployments, rollouts and retraining decisions as the registry writes them (docs/rollouts.md).
// States, outcomes and actions stay strings: a value the console does not know yet still shows.

/// <summary>A model's current traffic; the registry answers 404 while the model is not deployed.</summary>
public sealed record DeploymentView(
    string Model,
    long Revision,
    int Production,
    CanaryTrafficView? Canary,
    ShadowTrafficView? Shadow,
    string? StickyBy,
    DateTimeOffset UpdatedAt,
    string UpdatedBy,
    string? Reason);

public sealed record CanaryTrafficView(int Version, double Percent, bool AutoPromote);

public sealed record ShadowTrafficView(int Version, double Percent);

/// <summary>The traffic changes, newest first.</summary>
public sealed record DeploymentHistoryView(string Model, IReadOnlyList<DeploymentHistoryEntryView> History);

/// <param name="Deployment">The traffic after the change; only its production is read, to name what a rollback returns to.</param>
public sealed record DeploymentHistoryEntryView(long Revision, DateTimeOffset At, string Actor, string Action, string? Reason, HistoryTrafficView? Deployment = null);

public sealed record HistoryTrafficView(int Production);

public sealed record RolloutList(string Model, IReadOnlyList<RolloutView> Rollouts);

public sealed record RolloutView(
    Guid RolloutId,
    string Model,
    int Version,
    int ProductionVersion,
    string State,
    string Trigger,
    string RequestedBy,
    DateTimeOffset RequestedAt,
    DateTimeOffset UpdatedAt,
    bool RequireApproval,
    DateTimeOffset? ShadowStartedAt,
    DateTimeOffset? CanaryStartedAt,
    DateTimeOffset? BakeEndsAt,
    string? Reason,
    IReadOnlyList<RolloutEventView> Timeline,
    IReadOnlyList<RolloutAnalysisView> Analyses);

public sealed record RolloutEventView(DateTimeOffset At, string Event, string Detail);

/// <param name="Outcome"><c>promote</c>, <c>roll_back</c> or <c>continue</c>.</param>
public sealed record RolloutAnalysisView(
    DateTimeOffset At, bool BakeComplete, string Outcome, string Reason, IReadOnlyList<CanaryCheckView> Checks, long ProductionRequests, long CanaryRequests);

/// <summary>One comparison of the arms; the numbers are null where the check did not compute them.</summary>
public sealed record CanaryCheckView(string Name, bool Passed, string Detail, double? Production, double? Canary, double? PValue);

public sealed record RetrainingDecisionList(string Model, IReadOnlyList<RetrainingDecisionView> Decisions);

/// <param name="Decision"><c>started</c> or <c>skipped</c>.</param>
public sealed record RetrainingDecisionView(
    Guid Id, string Trigger, string Decision, string Reason, Guid? RunId, int? ParentVersion, string RequestedBy, DateTimeOffset At);

/// <summary>A page of the audit log, newest first; <see cref="NextBefore"/> reads the next, older page.</summary>
public sealed record AuditPageView(IReadOnlyList<AuditEntryView> Entries, long? NextBefore);

public sealed record AuditEntryView(long Id, DateTimeOffset At, string Actor, string Action, string Subject, System.Text.Json.JsonElement? Detail);

/// <summary>The key an operator signed in with, as <c>GET /api/keys/me</c> describes it.</summary>
public sealed record OwnKeyView(Guid Id, string Name, IReadOnlyList<string> Roles);

/// <summary>
/// The body of <c>PUT /api/models/{model}/deployment</c>: the whole traffic the model should take.
/// The API has no expected revision, so a change is built from the deployment just read and says
/// everything (production, canary, shadow, sticky key), never only the part that changes.
/// </summary>
public sealed record DeploymentRequestBody(int Production, CanaryRequestBody? Canary, ShadowRequestBody? Shadow, string? StickyBy, string? Reason);

public sealed record CanaryRequestBody(int Version, double Percent, bool AutoPromote);

public sealed record ShadowRequestBody(int Version, double Percent);

/// <summary>The body of <c>POST /api/models/{model}/rollback</c>; without a version, the registry returns to the previous production.</summary>
public sealed record RollbackRequestBody(string? Reason);
