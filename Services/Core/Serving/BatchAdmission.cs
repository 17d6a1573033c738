namespace Flywheel.Core.Serving;

/// <summary>
/// Whether a request for one version is scored at once on its own thread or queues to be batched.
/// A request goes straight through when waiting could not gain anything: the wait is 0 and nothing
/// is queued, or it is the only request in progress and none came in the last
/// <c>max_batch_wait_ms</c> (a quiet stretch, so nobody is likely to join it). A request that
/// follows another within the wait, or finds others in progress, queues so a runner can gather a
/// batch. A free runner slot is needed either way; without one it queues.
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

        return maxBatchWait <= TimeSpan.Zero || (activeRequests <= 1 && sinceLastArrival > maxBatchWait);
    }
}
