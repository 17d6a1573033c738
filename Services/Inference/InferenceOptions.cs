using System.ComponentModel.DataAnnotations;

namespace Flywheel.Inference;

/// <summary>How this worker loads and serves models (<c>Flywheel:Inference</c>).</summary>
public sealed class InferenceOptions
{
    public const string Section = "Flywheel:Inference";

    /// <summary>Where verified artifacts are kept on local disk; under the temp folder when empty.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>ONNX Runtime intra-op threads per session: 1 suits many small concurrent batches.</summary>
    [Range(1, 64)]
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Try the CUDA execution provider first (falls back to CPU when CUDA is not there).</summary>
    public bool UseCuda { get; set; } = true;

    /// <summary>Most sessions held at once, all models together; versions past it are not loaded (and say so in the log).</summary>
    [Range(1, 1000)]
    public int MaxLoadedVersions { get; set; } = 64;

    /// <summary>Most artifacts kept in the disk cache; the least recently used go first.</summary>
    [Range(1, 10_000)]
    public int MaxCachedFiles { get; set; } = 32;

    /// <summary>
    /// Calls of up to 64 rows reuse inputs and outputs bound to the session once per row count
    /// (binary and regression models whose outputs have the contract's shapes; checked when a
    /// version loads). Off builds every call's tensors afresh, as before (for the benchmark).
    /// </summary>
    public bool BindCalls { get; set; } = true;

    /// <summary>Micro-batching of concurrent requests; off runs each request alone (for the benchmark).</summary>
    public bool Batching { get; set; } = true;

    /// <summary>Most rows (instances, or tensor rows) one request may carry.</summary>
    [Range(1, 100_000)]
    public int MaxInstances { get; set; } = 1000;

    /// <summary>Largest request body in bytes; larger ones get 413.</summary>
    [Range(1024, 256L * 1024 * 1024)]
    public long MaxRequestBodySize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Largest request body in bytes parsed on the thread that read it. A larger body (or one
    /// sent without a length) is read there and then parsed, validated and scored on the thread
    /// pool, so that it does not hold up the other connections of a socket event thread
    /// (<see cref="InlineConnections"/>). The default, 16 KiB, is about 150 instances of a
    /// ten-feature model.
    /// </summary>
    [Range(0, 256L * 1024 * 1024)]
    public long InlineBodyBytes { get; set; } = 16 * 1024;

    /// <summary>
    /// ONNX Runtime calls one version may have in progress at once when its model batches without
    /// a wait (<c>max_batch_wait_ms</c> 0): requests that find them all busy are scored together by
    /// the next one to finish. 0 (the default): half the cores ÷ <see cref="IntraOpThreads"/>, at
    /// least 1, so the other half reads and answers requests while calls grow under load.
    /// </summary>
    [Range(0, 1024)]
    public int ScoringSlots { get; set; }

    /// <summary>The scoring slots in effect (see <see cref="ScoringSlots"/>).</summary>
    public int ResolveScoringSlots(int processorCount) =>
        ScoringSlots > 0 ? ScoringSlots : Math.Max(1, processorCount / 2 / IntraOpThreads);

    /// <summary>
    /// Requests waiting per version for a runner before callers are held back, when the model's
    /// batching waits (<c>max_batch_wait_ms</c> above 0). Without a wait, requests queue only for a
    /// busy scoring slot, so at most the requests in flight wait.
    /// </summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// Handles each client connection's requests on the socket event thread that received them
    /// (see <see cref="Serving.InlineConnections"/>); false hands every request to the thread pool.
    /// Read once at start.
    /// </summary>
    public bool InlineConnections { get; set; } = true;

    public string ResolveCacheDirectory() =>
        string.IsNullOrWhiteSpace(CacheDirectory) ? Path.Combine(Path.GetTempPath(), "flywheel-inference-cache") : CacheDirectory;
}
