using System.Diagnostics;

namespace Flywheel.Platform.Tests;

public sealed class ManifestTests
{
    [Fact]
    public async Task The_committed_aspire_manifest_is_what_the_AppHost_generates_now()
    {
        var root = RepositoryRoot();
        var generated = Path.Combine(Path.GetTempPath(), $"aspire-manifest-{Guid.NewGuid():N}.json");
        try
        {
            var script = new ProcessStartInfo("bash", [Path.Combine(root, "eng", "generate-manifest.sh"), "--no-build", generated])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var process = Process.Start(script)!;
            var errors = process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"generate-manifest.sh failed: {await errors}");

            var committed = await File.ReadAllTextAsync(Path.Combine(root, "aspire-manifest.json"));
            Assert.True(
                committed == await File.ReadAllTextAsync(generated),
                "aspire-manifest.json is stale: run eng/generate-manifest.sh and commit the result.");
        }
        finally
        {
            File.Delete(generated);
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Flywheel.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Flywheel.slnx not found above " + AppContext.BaseDirectory);
    }
}
