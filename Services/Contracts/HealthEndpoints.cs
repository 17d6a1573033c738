namespace Flywheel.Contracts;

/// <summary>Every service answers these directly (never through the gateway).</summary>
public static class HealthEndpoints
{
    /// <summary>The process and every dependency it needs are healthy.</summary>
    public const string Health = "/health";

    /// <summary>The process is alive; dependencies are not consulted.</summary>
    public const string Alive = "/alive";
}
