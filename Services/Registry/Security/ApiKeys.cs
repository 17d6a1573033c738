using System.Security.Claims;
using System.Text.Encodings.Web;
using Flywheel.Contracts;
using Flywheel.Core.Serving;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.Registry.Security;

public static class Policies
{
    /// <summary>Models, data, training and deployments: operators and admins.</summary>
    public const string Operate = "operate";

    /// <summary>
    /// The reads that are not public (the audit log, logged predictions, batch results): viewers,
    /// operators and admins. Never on a change: a viewer changes nothing.
    /// </summary>
    public const string Read = "read";

    /// <summary>API keys: admins only, since a key can carry any role.</summary>
    public const string Administer = "administer";
}

/// <summary>
/// Makes sure the deployment's bootstrap keys exist, hashed: the admin key
/// (<c>Flywheel:AdminKey</c>), so the first operator can sign in and create the real keys, and the
/// console's service key (<c>Flywheel:ConsoleKey</c>, role <c>console</c>), which acts only for the
/// person signed in to the console.
/// </summary>
public sealed class AdminKeyBootstrap(NpgsqlDataSource database, IConfiguration configuration, ILogger<AdminKeyBootstrap> logger) : IHostedService
{
    public const int MinKeyLength = 32;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration["Flywheel:AdminKey"] is { Length: >= MinKeyLength } adminKey)
        {
            await EnsureAsync("bootstrap-admin", adminKey, Roles.Admin, cancellationToken);
        }
        else
        {
            logger.LogWarning("No bootstrap admin key (Flywheel:AdminKey, at least 32 characters) is configured");
        }

        if (configuration["Flywheel:ConsoleKey"] is { Length: >= MinKeyLength } consoleKey)
        {
            await EnsureAsync("console", consoleKey, Roles.Console, cancellationToken);
        }
        else if (configuration["Flywheel:ConsoleKey"] is { Length: > 0 })
        {
            logger.LogWarning("The console key (Flywheel:ConsoleKey) is shorter than 32 characters and was not installed");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task EnsureAsync(string name, string key, string role, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            INSERT INTO registry.api_keys (id, name, key_hash, roles)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (key_hash) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7() });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        command.Parameters.Add(new NpgsqlParameter { Value = ApiKeyHash.Compute(key) });
        command.Parameters.Add(new NpgsqlParameter { Value = new[] { role } });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
