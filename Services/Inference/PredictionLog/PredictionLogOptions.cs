using System.ComponentModel.DataAnnotations;

namespace Flywheel.Inference.PredictionLog;

public sealed class PredictionLogOptions
{
    public const string Section = "Flywheel:Inference:PredictionLog";

    /// <summary>
    /// Records the buffer holds between the request path and the database. It bounds both the
    /// memory the log may take and what a crash (SIGKILL, out of memory) can lose.
    /// </summary>
    [Range(1, 10_000_000)]
    public int Capacity { get; set; } = 100_000;

    /// <summary>The most records one COPY writes.</summary>
    [Range(1, 100_000)]
    public int BatchSize { get; set; } = 5_000;

    /// <summary>How long a partial batch waits for more records before it is written anyway.</summary>
    [Range(1, 60_000)]
    public int FlushIntervalMilliseconds { get; set; } = 100;

    /// <summary>The longest pause between two attempts to write a batch the database refused.</summary>
    [Range(1, 600_000)]
    public int MaxRetryDelayMilliseconds { get; set; } = 5_000;
}
