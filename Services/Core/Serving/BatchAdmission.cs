namespace Flywheel.Core.Serving;

/// <summary>
/// Whether a request for one version is scored at once on its own thread or queues to be batched,
/// when the model's batching waits (a positive <c>max_batch_wait_ms</c>; without a wait the batcher
/// needs no such guess: a request queues only when every scoring slot is busy). A request goes
/// straight through when waiting could not gain anything: it is the only request in progress and
/// none came in the last <c>max_batch_wait_ms</c> (a quiet stretch, so nobody is likely to join it).
/// A request that follows another within the wait, or finds others in progress, queues so a runner
/// can gather a batch. A free runner slot and an empty queue are needed either way.
/// </summary>
public static class BatchAdmission
{
    /// <param name="activeRequests">Requests for the version in progress on this worker, this one included.</param>
    /// <param name="queued">Requests already queued for the version's runners.</param>
    /// <param name="sinceLastArrival">Time since the version's previous request arrived; <see cref="TimeSpan.MaxValue"/> for the first.</param>
    /// <param name="maxBatchWait">The model's <c>max_batch_wait_ms</c>.</param>
    /// <param name="slotFree">Whether one of the version's runner slots is free.</param>
    public static bool ScoreAtOnce(int activeRequests, int queued, TimeSpan sinceLastArrival, TimeSpan maxBatchWait, bool slotFree)
    {
        if (!slotFree || queued > 0)
        {
            return false;
        }

        return activeRequests <= 1 && sinceLastArrival > maxBatchWait;
    }
}
