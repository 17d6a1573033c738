using System.Security.Cryptography;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Flywheel.Contracts;
using Flywheel.Contracts.Training;

namespace Flywheel.Trainer.Jobs;

/// <summary>
/// Uploads artifacts to the private models container at <c>{model}/{sha256}.onnx</c>. A path is
/// written once: an upload that finds its blob already there (a retried job, or the same model
/// trained twice) checks that the stored bytes hash to the same value and leaves them alone.
/// </summary>
public sealed class ArtifactStore(BlobServiceClient blobs)
{
    public async Task<ArtifactReference> UploadAsync(string model, byte[] content, CancellationToken cancellationToken)
    {
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(content));
        var blob = blobs.GetBlobContainerClient(BlobContainers.Models).GetBlobClient($"{model}/{sha256}.onnx");
        try
        {
            await blob.UploadAsync(BinaryData.FromBytes(content), new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/octet-stream" },
                Metadata = new Dictionary<string, string> { ["sha256"] = sha256, ["model"] = model },
            }, cancellationToken);
        }
        catch (RequestFailedException exception) when (exception.Status is 409 or 412)
        {
            var existing = (await blob.DownloadContentAsync(cancellationToken)).Value.Content.ToArray();
            if (!SHA256.HashData(existing).AsSpan().SequenceEqual(Convert.FromHexString(sha256)))
            {
                throw new InvalidOperationException($"The artifact at {blob.Uri} does not hash to its name; refusing to overwrite it.");
            }
        }

        return new ArtifactReference(blob.Uri.AbsoluteUri, sha256, content.LongLength);
    }
}
