using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Flywheel.Azure.Tests;

/// <summary>The Bicep compiler from the Azure.Bicep.CommandLine NuGet package, and what it compiles <c>infra/main.bicep</c> to.</summary>
internal static class Bicep
{
    public static string MainFile => Repository.Path("infra", "main.bicep");

    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.Metadata("BicepPath"), arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repository.Root,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the Bicep compiler.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await errors);
    }

    /// <summary>The container apps and jobs the template deploys, by name, with the names of their environment variables.</summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> ContainerApps(JsonNode template)
    {
        var apps = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        Walk(template, apps);
        return apps;
    }

    private static void Walk(JsonNode? node, Dictionary<string, IReadOnlySet<string>> apps)
    {
        switch (node)
        {
            case JsonObject deployment when (string?)deployment["type"] == "Microsoft.Resources/deployments":
                var parameters = deployment["properties"]?["parameters"];
                var nested = deployment["properties"]?["template"];
                if (parameters?["name"]?["value"] is JsonValue name && parameters["env"]?["value"] is JsonArray env &&
                    DeclaresContainerApp(nested))
                {
                    apps[(string)name!] = env.Select(variable => (string)variable!["name"]!).ToHashSet(StringComparer.Ordinal);
                }

                Walk(nested, apps);
                break;
            case JsonObject obj:
                foreach (var (_, child) in obj)
                {
                    Walk(child, apps);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Walk(child, apps);
                }

                break;
        }
    }

    private static bool DeclaresContainerApp(JsonNode? template) =>
        Resources(template).Any(resource => (string?)resource["type"] is "Microsoft.App/containerApps" or "Microsoft.App/jobs");

    /// <summary>A template's resources: an array, or (with symbolic names) an object of them.</summary>
    private static IEnumerable<JsonNode> Resources(JsonNode? template) => template?["resources"] switch
    {
        JsonArray array => array.OfType<JsonNode>(),
        JsonObject obj => obj.Select(pair => pair.Value).OfType<JsonNode>(),
        _ => [],
    };
}
