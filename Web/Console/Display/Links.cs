namespace Flywheel.Console.Display;

/// <summary>Where the console's pages and the API's downloads live, with names escaped.</summary>
public static class Links
{
    public const string Models = "/models";

    public static string Model(string model, string? section = null) =>
        section is null ? $"/models/{Escape(model)}" : $"/models/{Escape(model)}?section={Escape(section)}";

    public static string Version(string model, int version) => $"/models/{Escape(model)}/versions/{version}";

    public static string Run(Guid runId) => $"/runs/{runId}";

    /// <summary>Served by the registry through the gateway, next to the console; no key is needed to read.</summary>
    public static string Artifact(string model, int version) => $"/api/models/{Escape(model)}/versions/{version}/artifact";

    private static string Escape(string segment) => Uri.EscapeDataString(segment);
}
