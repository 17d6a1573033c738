namespace Flywheel.Contracts;

/// <summary>The private Blob containers Flywheel owns; the migrator creates them before any service starts.</summary>
public static class BlobContainers
{
    /// <summary>Model artifacts, content-addressed by SHA-256; never overwritten.</summary>
    public const string Models = "models";

    /// <summary>Uploaded data files and batch-inference results.</summary>
    public const string Data = "data";

    public static IReadOnlyList<string> All { get; } = [Models, Data];
}
