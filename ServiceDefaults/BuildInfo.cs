using System.Reflection;

namespace Microsoft.Extensions.Hosting;

/// <summary>The running build's version and source revision (from SourceLink's informational version).</summary>
public static class BuildInfo
{
    public static string Version { get; } = Read(Assembly.GetEntryAssembly() ?? typeof(BuildInfo).Assembly);

    private static string Read(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString()
        ?? "unknown";
}
