namespace Flywheel.Core.Artifacts;

/// <summary>
/// Finds a registered artifact by its place in the models container, not by the endpoint it was
/// recorded under. A version's artifact URI names the storage endpoint of the day it was trained
/// (a local Azurite listens on a new port at every start; an account can move behind another host
/// name), while the bytes are always read through the service's own container client and checked
/// against the registered SHA-256: only the path decides which blob is meant. A URI whose path
/// lies outside the container (another container or account, a traversal, no blob name) names
/// nothing.
/// </summary>
public static class ArtifactLocation
{
    /// <summary>The longest blob name Blob storage accepts.</summary>
    public const int MaxNameLength = 1024;

    /// <summary>
    /// The name of the blob <paramref name="artifactUri"/> names within <paramref name="container"/>,
    /// whatever its scheme, host and port; null when it names anything else.
    /// </summary>
    public static string? BlobName(Uri container, string artifactUri)
    {
        ArgumentNullException.ThrowIfNull(container);
        if (!Uri.TryCreate(artifactUri, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || uri.Query.Length > 0
            || uri.Fragment.Length > 0)
        {
            return null;
        }

        // Uri has already folded "." and ".." segments into the path, so a traversal out of the
        // container no longer starts with its path; escaped ones are caught segment by segment below.
        var prefix = container.AbsolutePath.TrimEnd('/') + "/";
        var path = uri.AbsolutePath;
        if (!path.StartsWith(prefix, StringComparison.Ordinal) || path.Length == prefix.Length)
        {
            return null;
        }

        var name = Uri.UnescapeDataString(path[prefix.Length..]);
        if (name.Length > MaxNameLength)
        {
            return null;
        }

        foreach (var segment in name.Split('/'))
        {
            if (segment is "" or "." or ".." || segment.Contains('\\') || segment.Any(char.IsControl))
            {
                return null;
            }
        }

        return name;
    }
}
