using System.Xml.Linq;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Flywheel.Console.Security;

/// <summary>
/// Keeps the console's Data Protection key ring (which protects the sign-in cookie) in a Blob
/// container, so that every replica of a deployed console reads the same keys and a person stays
/// signed in whichever replica answers. One blob per key: replicas that create keys at the same
/// time write different blobs instead of overwriting one shared document.
/// </summary>
internal sealed class BlobKeyRepository(BlobContainerClient container) : IXmlRepository
{
    /// <summary>The container (created by the deployment, infra/modules/storage.bicep); the console may write only here.</summary>
    public const string Container = "data-protection";

    private const string Prefix = "keys/";

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        var elements = new List<XElement>();
        foreach (var blob in container.GetBlobs(BlobTraits.None, BlobStates.None, Prefix, CancellationToken.None))
        {
            using var content = container.GetBlobClient(blob.Name).OpenRead();
            elements.Add(XElement.Load(content));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        // Key files are never rewritten: a key is revoked by a new revocation element, not an edit.
        var name = $"{Prefix}{(string.IsNullOrEmpty(friendlyName) ? Guid.NewGuid().ToString("N") : friendlyName)}.xml";
        using var content = new MemoryStream();
        element.Save(content, SaveOptions.DisableFormatting);
        content.Position = 0;
        container.GetBlobClient(name).Upload(content, overwrite: false);
    }
}

internal static class DataProtectionExtensions
{
    /// <summary>
    /// With Blob storage configured (<c>ConnectionStrings:artifacts</c>: deployed, a service URI read
    /// with the console's managed identity; locally, Azurite's connection string) the key ring lives
    /// there; without it (the console run on its own) ASP.NET Core's default per-user key folder.
    /// </summary>
    public static void AddConsoleDataProtection(this IHostApplicationBuilder builder)
    {
        var dataProtection = builder.Services.AddDataProtection().SetApplicationName("flywheel-console");
        if (builder.Configuration.GetConnectionString(Contracts.ResourceNames.Artifacts) is not { Length: > 0 } connectionString)
        {
            return;
        }

        BlobContainerClient container;
        if (Uri.TryCreate(connectionString, UriKind.Absolute, out var serviceUri) && serviceUri.Scheme is "https" or "http")
        {
            // Deployed: the container exists (infra/modules/storage.bicep) and the console may write only there.
            container = new BlobServiceClient(serviceUri, AzureIdentity.CreateCredential(builder.Configuration)).GetBlobContainerClient(BlobKeyRepository.Container);
        }
        else
        {
            // Local (Azurite, a connection string): the console makes the container itself.
            container = new BlobServiceClient(connectionString).GetBlobContainerClient(BlobKeyRepository.Container);
            container.CreateIfNotExists();
        }

        dataProtection.Services.Configure<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>(options =>
            options.XmlRepository = new BlobKeyRepository(container));
    }
}
