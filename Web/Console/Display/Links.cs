namespace Flywheel.Console.Display;

/// <summary>Where the console's pages and the API's downloads live, with names escaped.</summary>
public static class Links
{
    public const string Models = "/models";

    public static string Model(string model, string? section = null) =>
        section is null ? $"/models/{Escape(model)}" : $"/models/{Escape(model)}?section={Escape(section)}";

    public static string Version(string model, int version) => $"/models/{Escape(model)}/versions/{version}";

    public static string Run(Guid runId) => $"/runs/{runId}";

    public static string Drift(string model) => $"/models/{Escape(model)}/drift";

    public static string Drift(string model, Guid reportId) => $"/models/{Escape(model)}/drift?report={reportId}";

    public const string Audit = "/audit";

    public const string Keys = "/keys";

    public const string Predictions = "/predictions";

    public static string Prediction(Guid predictionId) => $"/predictions/{predictionId}";

    /// <summary>The sign-in page, coming back to <paramref name="returnTo"/> (a console path) afterwards.</summary>
    public static string SignIn(string? returnTo = null) => returnTo is null ? "/sign-in" : $"/sign-in?return={Escape(returnTo)}";

    /// <summary>
    /// Where a sign-in may go back to: a path of this console, never another site ("//evil",
    /// "https://…"), and never one with a control character, which a local redirect refuses.
    /// </summary>
    public static string LocalOrHome(string? returnTo) =>
        returnTo is { Length: > 0 } && returnTo[0] == '/' && !returnTo.StartsWith("//", StringComparison.Ordinal) && !returnTo.StartsWith("/\\", StringComparison.Ordinal) &&
        !returnTo.Any(char.IsControl)
            ? returnTo
            : "/";

    /// <summary>Served by the registry through the gateway, next to the console; no key is needed to read.</summary>
    public static string Artifact(string model, int version) => $"/api/models/{Escape(model)}/versions/{version}/artifact";

    /// <summary>A training snapshot's record, served by the registry through the gateway; the console has no page for it.</summary>
    public static string Snapshot(string model, Guid snapshotId) => $"/api/models/{Escape(model)}/snapshots/{snapshotId}";

    private static string Escape(string segment) => Uri.EscapeDataString(segment);
}
