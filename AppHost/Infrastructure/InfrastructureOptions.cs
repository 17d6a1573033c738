using System.Diagnostics;

namespace Flywheel.AppHost.Infrastructure;

/// <summary>
/// Where local state lives and how infrastructure runs. <c>Flywheel:Infrastructure</c> is
/// <c>auto</c> (default), <c>executables</c> or <c>containers</c>; <c>Flywheel:DataDir</c> and
/// <c>Flywheel:ToolsDir</c> default to <c>.flywheel/data</c> and <c>.flywheel/tools</c> in the repository.
/// </summary>
internal sealed record InfrastructureOptions(bool UseContainers, string DataDirectory, string ToolsDirectory, string ScriptsDirectory)
{
    public static InfrastructureOptions From(IDistributedApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var repository = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
        var data = DataDirectoryOf(builder);
        var tools = Path.GetFullPath(config["Flywheel:ToolsDir"] ?? Path.Combine(repository, ".flywheel", "tools"));
        var scripts = Path.Combine(builder.AppHostDirectory, "local");
        var mode = config["Flywheel:Infrastructure"] ?? "auto";
        var useContainers = mode switch
        {
            "containers" => true,
            "executables" => false,
            "auto" => ContainerRuntimeIsHealthy(config["ASPIRE_CONTAINER_RUNTIME"] ?? config["DOTNET_ASPIRE_CONTAINER_RUNTIME"] ?? "docker"),
            _ => throw new InvalidOperationException(
                $"Flywheel:Infrastructure is '{mode}'; use 'auto', 'executables' or 'containers'."),
        };
        return new InfrastructureOptions(useContainers, data, tools, scripts);
    }

    public static string DataDirectoryOf(IDistributedApplicationBuilder builder) =>
        Path.GetFullPath(builder.Configuration["Flywheel:DataDir"]
            ?? Path.Combine(builder.AppHostDirectory, "..", ".flywheel", "data"));

    /// <summary>
    /// A container runtime's client can be installed while no engine runs (the case on this
    /// machine and in CI); only an answering engine counts.
    /// </summary>
    private static bool ContainerRuntimeIsHealthy(string runtime)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null)
            {
                return false;
            }

            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }
}
