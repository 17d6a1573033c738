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

    /// <summary>
    /// How long a partial batch waits for more records before it is written anyway. Each write is
    /// a burst of work (JSON, COPY, PostgreSQL's inserts and indexes) on the cores the requests
    /// use: at 3,000 req/s a write every second instead of every 100 ms cut the worker's median
    /// latency from 0.51–0.61 ms to 0.32 ms on a 2-core machine (docs/benchmarks.md).
    /// The price is freshness and the crash-loss window: records reach the table up to this much
    /// later, and a worker killed outright loses about this long of traffic.
    /// </summary>
    [Range(1, 60_000)]
    public int FlushIntervalMilliseconds { get; set; } = 1_000;

    /// <summary>The longest pause between two attempts to write a batch the database refused.</summary>
    [Range(1, 600_000)]
    public int MaxRetryDelayMilliseconds { get; set; } = 5_000;
}
