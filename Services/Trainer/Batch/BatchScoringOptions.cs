using System.ComponentModel.DataAnnotations;

namespace Flywheel.Trainer.Batch;

public sealed class BatchScoringOptions
{
    public const string Section = "Flywheel:Trainer:Batch";

    /// <summary>
    /// Rows scored, written as one staged block and reported as progress at a time; a job
    /// redelivered after a crash redoes at most one chunk.
    /// </summary>
    [Range(1, 1_000_000)]
    public int ChunkRows { get; set; } = 10_000;
}
