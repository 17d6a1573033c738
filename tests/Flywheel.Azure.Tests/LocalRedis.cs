using System.Security.Cryptography;

namespace Flywheel.Azure.Tests;

/// <summary>A password-protected Redis started through the same launcher the AppHost uses, in a folder of its own.</summary>
internal sealed class LocalRedis : IAsyncDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "flywheel-redis-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly LocalProcess _server;

    public LocalRedis()
    {
        Directory.CreateDirectory(_work);
        var passwordFile = Path.Combine(_work, "redis.password");
        File.WriteAllText(passwordFile, Password);
        _server = LocalProcess.Start("bash", [Repository.Path("AppHost", "local", "redis.sh"), Path.Combine(_work, "redis"), $"{Port}", passwordFile]);
    }

    public string Password { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public int Port { get; } = Ports.Free();

    /// <summary>Runs redis-cli as the default (password) user, retrying while the server starts.</summary>
    public async Task<string> CliAsync(params string[] command)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var cli = LocalProcess.Start("redis-cli", ["-p", $"{Port}", "--no-auth-warning", "-a", Password, .. command]);
            await cli.WaitForExitAsync(TimeSpan.FromSeconds(10));
            if (cli.ExitCode == 0 && !cli.Output.Contains("ERR", StringComparison.Ordinal) && !cli.Output.Contains("Could not connect", StringComparison.Ordinal))
            {
                return cli.Output;
            }

            if (attempt == 40)
            {
                throw new InvalidOperationException($"redis-cli {string.Join(' ', command)} failed: {cli.Output}");
            }

            await Task.Delay(250);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }
}
