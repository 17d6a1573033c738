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
    /// <summary>The version the gateway assigned this request to.</summary>
    public const string Version = "X-Flywheel-Version";

    /// <summary>"true" on a mirrored request: log it as shadow; its response is thrown away.</summary>
    public const string Shadow = "X-Flywheel-Shadow";

    /// <summary>The calling key's name, for the prediction log.</summary>
    public const string Caller = "X-Flywheel-Caller";

    /// <summary>Set on the response: the version that answered.</summary>
    public const string ModelVersion = "X-Flywheel-Model-Version";

    public static IReadOnlyList<string> All { get; } = [Version, Shadow, Caller];
}

/// <summary>Postgres NOTIFY channels the data plane listens on.</summary>
public static class NotifyChannels
{
    public const string Deployments = "flywheel_deployments";
    public const string ApiKeys = "flywheel_api_keys";
}
