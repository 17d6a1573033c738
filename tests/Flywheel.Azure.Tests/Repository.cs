using System.Reflection;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Flywheel.Azure.Tests;

internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Metadata(string key) =>
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"No assembly metadata '{key}'.");

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Flywheel.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Flywheel.slnx not found above " + AppContext.BaseDirectory);
    }
}
