using System.Security.Claims;
using System.Text.Encodings.Web;
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
/// Makes sure the deployment's bootstrap admin key (<c>Flywheel:AdminKey</c>) exists, hashed, so
/// the first operator can sign in and create the real keys.
/// </summary>
public sealed class AdminKeyBootstrap(NpgsqlDataSource database, IConfiguration configuration, ILogger<AdminKeyBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration["Flywheel:AdminKey"] is not { Length: >= 32 } key)
        {
            logger.LogWarning("No bootstrap admin key (Flywheel:AdminKey, at least 32 characters) is configured");
            return;
        }

        await using var command = database.CreateCommand("""
            INSERT INTO registry.api_keys (id, name, key_hash, roles)
            VALUES ($1, 'bootstrap-admin', $2, ARRAY['admin'])
            ON CONFLICT (key_hash) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7() });
        command.Parameters.Add(new NpgsqlParameter { Value = ApiKeyHash.Compute(key) });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
