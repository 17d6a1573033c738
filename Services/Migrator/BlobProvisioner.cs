using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Flywheel.Contracts;

namespace Flywheel.Migrator;

/// <summary>Creates Flywheel's Blob containers, private (no anonymous access), if they are missing.</summary>
internal sealed class BlobProvisioner(BlobServiceClient blobs, ILogger<BlobProvisioner> logger)
{
    public async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        foreach (var name in BlobContainers.All)
        {
            var response = await blobs.GetBlobContainerClient(name)
                .CreateIfNotExistsAsync(PublicAccessType.None, cancellationToken: cancellationToken);
            if (response is not null)
            {
                logger.LogInformation("Created Blob container {Container}", name);
            }
        }
    }
}
