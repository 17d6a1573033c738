using Azure.Core;
using Flywheel.Contracts;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// PostgreSQL through Aspire.Npgsql (pooling, health check, tracing, metrics). A connection
/// string with a password is used as it is (local); one without a password signs in with
/// Microsoft Entra ID: the service's identity gets an access token for Azure Database for
/// PostgreSQL and presents it as the password, renewed before it expires.
/// </summary>
public static class DatabaseExtensions
{
    private const string PostgresTokenScope = "https://ossrdbms-aad.database.windows.net/.default";

    public static TBuilder AddDatabase<TBuilder>(this TBuilder builder, string connectionName = ResourceNames.Database)
        where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        var useEntra = connectionString is not null && string.IsNullOrEmpty(new NpgsqlConnectionStringBuilder(connectionString).Password);
        builder.AddNpgsqlDataSource(connectionName, configureDataSourceBuilder: dataSource =>
        {
            if (useEntra)
            {
                var credential = AzureIdentity.CreateCredential(builder.Configuration);
                dataSource.UsePeriodicPasswordProvider(
                    async (_, cancellationToken) => (await credential.GetTokenAsync(
                        new TokenRequestContext([PostgresTokenScope]), cancellationToken)).Token,
                    successRefreshInterval: TimeSpan.FromMinutes(30),
                    failureRefreshInterval: TimeSpan.FromSeconds(10));
            }
        });
        return builder;
    }
}
