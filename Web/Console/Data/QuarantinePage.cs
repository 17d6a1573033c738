using Flywheel.Console.Display;

namespace Flywheel.Console.Data;

/// <summary>
/// Where a page of an ingestion's quarantine sits. Every rejected row is quarantined, so the
/// ingestion's rejected count is the total; <see cref="Shown"/> is how many rows this page holds.
/// </summary>
public sealed record QuarantinePage(long Offset, int Limit, long Total, int Shown)
{
    public bool HasPrevious => Offset > 0;

    /// <summary>A short page is the last one, whatever the count said.</summary>
    public bool HasNext => Shown >= Limit && Offset + Shown < Total;

    public long PreviousOffset => Math.Max(0, Offset - Limit);

    public long NextOffset => Offset + Shown;

    public string Describe() => Shown == 0
        ? Offset == 0 ? "No quarantined rows." : "No rows on this page."
        : $"Rows {Format.Count(Offset + 1)}–{Format.Count(Offset + Shown)} of {Format.Count(Math.Max(Total, Offset + Shown))}";
}
