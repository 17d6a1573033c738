namespace Flywheel.Console;

/// <summary>The console's settings, from the <c>Console</c> configuration section.</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Console";

    /// <summary>How often a page showing a queued or running training run asks for its progress.</summary>
    public TimeSpan RunRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);
}
