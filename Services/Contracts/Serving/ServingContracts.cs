namespace Flywheel.Contracts.Serving;

/// <summary>
/// A model's traffic changed: published by whoever changed <c>registry.deployments</c>, in the
/// same transaction (outbox). The data plane does not need it (it listens to the table); the
/// orchestrator and the console do.
/// </summary>
public sealed record DeploymentChanged(
    string Model,
    long Revision,
    int Production,
    int? CanaryVersion,
    double? CanaryPercent,
    int? ShadowVersion,
    double? ShadowPercent,
    string? StickyBy,
    string Action,
    string Actor,
    string? Reason,
    DateTimeOffset At);

/// <summary>Deployment actions as recorded in the history.</summary>
public static class DeploymentActions
{
    public const string Deploy = "deploy";
    public const string Rollback = "rollback";
    public const string Promote = "promote";
    public const string Abort = "abort";
}

/// <summary>
/// Headers between the gateway and the inference workers. The gateway removes any a client sends
/// and sets its own; a worker called directly (no gateway) serves the production version.
/// </summary>
public static class ServingHeaders
{
    /// <summary>
    /// The part of the deployment the gateway assigned this request to (<see cref="TrafficRoles"/>).
    /// A role, not a version number: each worker maps it to the version it has loaded for that role,
    /// so a worker that has not yet loaded a new deployment answers with its current one instead of
    /// failing, and a deployment change never fails a request.
    /// </summary>
    public const string Traffic = "X-Flywheel-Traffic";

    /// <summary>An exact version, for internal callers (benchmarks, tools); the gateway never sets it.</summary>
    public const string Version = "X-Flywheel-Version";

    /// <summary>"true" on a mirrored request: log it as shadow; its response is thrown away.</summary>
    public const string Shadow = "X-Flywheel-Shadow";

    /// <summary>
    /// Was the calling key's name, set by the gateway. Workers now find the caller from the key
    /// itself; a client's value is still removed at the gateway, and nothing reads it.
    /// </summary>
    public const string Caller = "X-Flywheel-Caller";

    /// <summary>Set on the response: the version that answered.</summary>
    public const string ModelVersion = "X-Flywheel-Model-Version";

    public static IReadOnlyList<string> All { get; } = [Traffic, Version, Shadow, Caller];
}

/// <summary>Values of <see cref="ServingHeaders.Traffic"/>.</summary>
public static class TrafficRoles
{
    public const string Production = "production";

    /// <summary>The canary version once this worker has it loaded; production until then.</summary>
    public const string Canary = "canary";

    /// <summary>The shadow version; refused when this worker has none loaded (the copy is dropped).</summary>
    public const string Shadow = "shadow";
}

/// <summary>Postgres NOTIFY channels the data plane listens on.</summary>
public static class NotifyChannels
{
    public const string Deployments = "flywheel_deployments";
    public const string ApiKeys = "flywheel_api_keys";
}
