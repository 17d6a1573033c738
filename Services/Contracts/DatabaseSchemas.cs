namespace Flywheel.Contracts;

/// <summary>PostgreSQL schemas, one per owning service (ARCHITECTURE.md, "owns").</summary>
public static class DatabaseSchemas
{
    public const string Registry = "registry";
    public const string Orchestration = "orchestration";
    public const string Monitoring = "monitoring";
    public const string Inference = "inference";

    public static IReadOnlyList<string> All { get; } = [Registry, Orchestration, Monitoring, Inference];
}
