using System.Diagnostics;

namespace Flywheel.Migrator;

internal static class MigrationCommand
{
    public static readonly ActivitySource Activity = new("Flywheel.Migrator");

    public static async Task<int> RunAsync(IServiceProvider services)
    {
        var logger = services.GetRequiredService<ILogger<DatabaseMigrator>>();
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        using var activity = Activity.StartActivity("migrate");
        try
        {
            await services.GetRequiredService<DatabaseMigrator>().MigrateAsync(lifetime.ApplicationStopping);
            await services.GetRequiredService<PrincipalGrants>().ApplyAsync(lifetime.ApplicationStopping);
            await services.GetRequiredService<BlobProvisioner>().ProvisionAsync(lifetime.ApplicationStopping);
            logger.LogInformation("Database and Blob storage are up to date");
            return 0;
        }
        catch (Exception ex)
        {
            activity?.AddException(ex);
            logger.LogCritical(ex, "Migration failed; services that depend on it will not start");
            return 1;
        }
    }
}
