using Flywheel.Console.Display;

namespace Flywheel.Console.Rollouts;

/// <summary>A rollout's state in words, and what an operator may still do with it (docs/rollouts.md).</summary>
public static class RolloutStates
{
    public const string Shadowing = "shadowing";
    public const string Canary = "canary";
    public const string AwaitingApproval = "awaiting_approval";
    public const string Promoting = "promoting";
    public const string RollingBack = "rolling_back";
    public const string Promoted = "promoted";
    public const string RolledBack = "rolled_back";
    public const string Failed = "failed";

    /// <summary>Only a canary that passed its analysis and waits can be approved.</summary>
    public static bool CanApprove(string? state) => state == AwaitingApproval;

    /// <summary>Rejection stops a rollout at any point before it finished.</summary>
    public static bool CanReject(string? state) => state is Shadowing or Canary or AwaitingApproval;

    /// <summary>A rollout in these states still moves by itself; a page showing one keeps refreshing.</summary>
    public static bool IsActive(string? state) => state is Shadowing or Canary or AwaitingApproval or Promoting or RollingBack;

    public static string Label(string? state) => string.IsNullOrEmpty(state) ? "Unknown" : Format.Humanize(state);

    /// <summary>The badge's colour class: good, bad, waiting or moving.</summary>
    public static string Css(string? state) => state switch
    {
        Promoted => "state-succeeded",
        RolledBack or Failed => "state-failed",
        AwaitingApproval => "state-waiting",
        Shadowing or Canary or Promoting or RollingBack => "state-running",
        _ => "state-queued",
    };

    /// <summary>An analysis outcome in words.</summary>
    public static string Outcome(string outcome) => outcome switch
    {
        "promote" => "Promote",
        "roll_back" => "Roll back",
        "continue" => "Keep baking",
        _ => Format.Humanize(outcome),
    };
}
