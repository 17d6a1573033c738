namespace Flywheel.Console.Display;

/// <summary>The sections of a model's page, chosen by <c>?section=</c> so each has an address.</summary>
public static class ModelSections
{
    public const string Versions = "versions";
    public const string Runs = "runs";
    public const string Data = "data";
    public const string Deployment = "deployment";
    public const string Rollouts = "rollouts";

    public static readonly IReadOnlyList<(string Key, string Label)> All =
        [(Versions, "Versions"), (Runs, "Training runs"), (Data, "Data"), (Deployment, "Deployment"), (Rollouts, "Rollouts")];

    /// <summary>The section a query names; versions when it names none or one that does not exist.</summary>
    public static string Parse(string? section) =>
        All.Any(s => string.Equals(s.Key, section, StringComparison.OrdinalIgnoreCase)) ? section!.ToLowerInvariant() : Versions;
}
