using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Migrator;

/// <summary>
/// On Azure, each service signs in to PostgreSQL as its own managed identity; the migrator is
/// the server's Entra administrator and creates a role for each of the others
/// (<c>Flywheel:Database:Principals</c>, comma-separated identity names) with the rights to read
/// and write Flywheel's schemas — and nothing else (no DDL, no other databases).
/// Where Entra sign-in is unavailable (a local server) the roles are plain login roles.
/// </summary>
internal sealed class PrincipalGrants(NpgsqlDataSource dataSource, IConfiguration configuration, ILogger<PrincipalGrants> logger)
{
    public IReadOnlyList<string> Principals { get; } =
        (configuration["Flywheel:Database:Principals"] ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public async Task ApplyAsync(CancellationToken cancellationToken)
    {
        if (Principals.Count == 0)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var entra = await ScalarAsync<bool>(connection,
            "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'pgaadauth_create_principal')", null, cancellationToken);
        var database = connection.Database;
        foreach (var principal in Principals)
        {
            var role = Quote(principal);
            if (!await ScalarAsync<bool>(connection, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", principal, cancellationToken))
            {
                var create = entra
                    ? "SELECT * FROM pgaadauth_create_principal($1, false, false)"
                    : $"CREATE ROLE {role} LOGIN";
                await ExecuteAsync(connection, create, entra ? principal : null, cancellationToken);
                logger.LogInformation("Created database role {Principal}", principal);
            }

            await ExecuteAsync(connection, $"GRANT CONNECT ON DATABASE {Quote(database)} TO {role}", null, cancellationToken);
            foreach (var schema in DatabaseSchemas.All)
            {
                var s = Quote(schema);
                await ExecuteAsync(connection, $"GRANT USAGE ON SCHEMA {s} TO {role}", null, cancellationToken);
                await ExecuteAsync(connection, $"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {role}", null, cancellationToken);
                await ExecuteAsync(connection, $"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {role}", null, cancellationToken);
                // Tables that later migrations create are covered too.
                await ExecuteAsync(connection, $"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}", null, cancellationToken);
                await ExecuteAsync(connection, $"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {role}", null, cancellationToken);
            }
        }

        logger.LogInformation("Granted {Count} service identities access to the Flywheel schemas", Principals.Count);
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, string? parameter, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (parameter is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, string? parameter, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (parameter is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
