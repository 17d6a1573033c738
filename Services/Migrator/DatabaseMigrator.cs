using System.Reflection;
using Flywheel.Contracts;
using Flywheel.Core.Migrations;
using Npgsql;

namespace Flywheel.Migrator;

/// <summary>
/// Applies the embedded forward-only SQL migrations, each in its own transaction together with
/// its history row, under an advisory lock so concurrent migrators queue instead of racing.
/// Creates the database first when the server does not have it yet.
/// </summary>
internal sealed class DatabaseMigrator(NpgsqlDataSource dataSource, IConfiguration configuration, ILogger<DatabaseMigrator> logger)
{
    // Arbitrary but fixed: every migrator of every version takes the same lock.
    private const long AdvisoryLockKey = 0x466c7977_6865656c;

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await EnsureDatabaseExistsAsync(cancellationToken);

        await using var connection = await OpenWithRetryAsync(cancellationToken);
        await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
        try
        {
            await ExecuteAsync(connection, null, """
                CREATE TABLE IF NOT EXISTS public.schema_migrations (
                    id text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken);

            var pending = MigrationPlan.Pending(LoadScripts(), await ReadHistoryAsync(connection, cancellationToken));
            foreach (var script in pending)
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await ExecuteAsync(connection, transaction, script.Sql, cancellationToken);
                await using (var record = new NpgsqlCommand(
                    "INSERT INTO public.schema_migrations (id, checksum) VALUES ($1, $2)", connection, transaction))
                {
                    record.Parameters.Add(new NpgsqlParameter { Value = script.Id });
                    record.Parameters.Add(new NpgsqlParameter { Value = script.Checksum });
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
                logger.LogInformation("Applied migration {MigrationId}", script.Id);
            }

            if (pending.Count == 0)
            {
                logger.LogInformation("Database schema is current");
            }
        }
        finally
        {
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    public static IReadOnlyList<MigrationScript> LoadScripts()
    {
        const string prefix = "Flywheel.Migrator.Scripts.";
        var assembly = typeof(DatabaseMigrator).Assembly;
        return
        [
            .. assembly.GetManifestResourceNames()
                .Where(name => name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
                .Select(name => new MigrationScript(name[prefix.Length..^".sql".Length], ReadResource(assembly, name))),
        ];
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static async Task<List<AppliedMigration>> ReadHistoryAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT id, checksum FROM public.schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var applied = new List<AppliedMigration>();
        while (await reader.ReadAsync(cancellationToken))
        {
            applied.Add(new AppliedMigration(reader.GetString(0), reader.GetString(1)));
        }

        return applied;
    }

    /// <summary>Managed and containerised servers come with the database; a fresh local cluster does not.</summary>
    private async Task EnsureDatabaseExistsAsync(CancellationToken cancellationToken)
    {
        // The data source hides the password; the configured connection string still has it.
        var configured = configuration.GetConnectionString(ResourceNames.Database)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ResourceNames.Database} is not configured.");
        var target = new NpgsqlConnectionStringBuilder(configured);
        if (string.IsNullOrEmpty(target.Password))
        {
            // Entra sign-in: a managed server, whose database the deployment provisions.
            return;
        }

        var database = target.Database ?? throw new InvalidOperationException("The database connection string names no database.");
        var maintenance = new NpgsqlConnectionStringBuilder(configured) { Database = "postgres", Pooling = false };
        await using var server = new NpgsqlConnection(maintenance.ConnectionString);
        try
        {
            await OpenWithRetryAsync(server, cancellationToken);
        }
        catch (PostgresException)
        {
            // No access to the maintenance database (a managed server): the database is provisioned for us.
            return;
        }

        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", server);
        exists.Parameters.Add(new NpgsqlParameter { Value = database });
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            var quoted = "\"" + database.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
            await ExecuteAsync(server, null, $"CREATE DATABASE {quoted}", cancellationToken);
            logger.LogInformation("Created database {Database}", database);
        }
    }

    private async Task<NpgsqlConnection> OpenWithRetryAsync(CancellationToken cancellationToken)
    {
        var connection = dataSource.CreateConnection();
        await OpenWithRetryAsync(connection, cancellationToken);
        return connection;
    }

    /// <summary>The server may still be starting when the migrator runs; give it half a minute.</summary>
    private async Task OpenWithRetryAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await connection.OpenAsync(cancellationToken);
                return;
            }
            catch (NpgsqlException ex) when (ex.IsTransient && attempt < 30)
            {
                logger.LogInformation("PostgreSQL is not accepting connections yet (attempt {Attempt}): {Reason}", attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
