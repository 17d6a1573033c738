using Azure.Identity;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Registers the Blob client the Aspire way (connection string named
/// <see cref="ResourceNames.Artifacts"/>) with a health check and Azure SDK tracing. Aspire's own
/// Blob client package is not available here, so this is the small equivalent.
/// </summary>
public static class BlobStorageExtensions
{
    /// <summary>
    /// Accepts either a full connection string (Azurite, local) or a service URI
    /// (<c>https://account.blob.core.windows.net/</c>), in which case the workload identity is used.
    /// </summary>
    public static TBuilder AddBlobStorage<TBuilder>(this TBuilder builder, string connectionName = ResourceNames.Artifacts)
        where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"Blob storage is not configured: set ConnectionStrings:{connectionName} to a connection string or a service URI.");
        }

        builder.Services.AddSingleton(_ => CreateClient(connectionString, builder.Configuration));
        builder.Services.AddHealthChecks().AddCheck<BlobStorageHealthCheck>(connectionName, tags: [Extensions.ReadyTag]);
        return builder;
    }

    private static BlobServiceClient CreateClient(string connectionString, IConfiguration configuration)
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 3;
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        if (Uri.TryCreate(connectionString, UriKind.Absolute, out var serviceUri) && serviceUri.Scheme is "https" or "http")
        {
            return new BlobServiceClient(serviceUri, AzureIdentity.CreateCredential(configuration), options);
        }

        return new BlobServiceClient(connectionString, options);
    }
}

/// <summary>Healthy when every container Flywheel owns can be read; proves reachability, credentials and provisioning.</summary>
internal sealed class BlobStorageHealthCheck(BlobServiceClient client) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            foreach (var container in BlobContainers.All)
            {
                await client.GetBlobContainerClient(container).GetPropertiesAsync(cancellationToken: cancellationToken);
            }

            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is global::Azure.RequestFailedException or HttpRequestException or TaskCanceledException or OperationCanceledException or AuthenticationFailedException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "Blob storage is unreachable or a container is missing.", ex);
        }
    }
}
