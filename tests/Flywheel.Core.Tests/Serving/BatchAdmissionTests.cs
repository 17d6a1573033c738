using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class BatchAdmissionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan Recent = TimeSpan.FromMilliseconds(0.4);

    [Fact]
    public void The_first_request_a_version_sees_is_scored_at_once()
    {
        Assert.True(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, TimeSpan.MaxValue, Wait, slotFree: true));
    }

    [Fact]
    public void A_lone_request_after_a_quiet_stretch_is_scored_at_once()
    {
        Assert.True(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, Quiet, Wait, slotFree: true));
    }

    [Fact]
    public void A_request_following_another_within_the_wait_queues_for_a_batch_even_when_the_other_is_done()
    {
        Assert.False(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, Recent, Wait, slotFree: true));
    }

    [Fact]
    public void A_request_exactly_one_wait_after_the_last_still_queues()
    {
        Assert.False(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, Wait, Wait, slotFree: true));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(64)]
    public void A_request_that_finds_others_in_progress_queues_however_quiet_it_was(int active)
    {
        Assert.False(BatchAdmission.ScoreAtOnce(active, queued: 0, Quiet, Wait, slotFree: true));
    }

    [Fact]
    public void A_request_never_jumps_a_queue()
    {
        Assert.False(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 1, Quiet, Wait, slotFree: true));
        Assert.False(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 2, TimeSpan.MaxValue, Wait, slotFree: true));
    }

    [Fact]
    public void Without_a_free_runner_slot_a_request_queues()
    {
        Assert.False(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, Quiet, Wait, slotFree: false));
        Assert.False(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, TimeSpan.MaxValue, Wait, slotFree: false));
    }

    [Fact]
    public void A_long_wait_makes_a_stretch_that_would_be_quiet_for_a_short_one_count_as_busy()
    {
        var sinceLast = TimeSpan.FromMilliseconds(20);

        Assert.True(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, sinceLast, TimeSpan.FromMilliseconds(10), slotFree: true));
        Assert.False(BatchAdmission.ScoreAtOnce(activeRequests: 1, queued: 0, sinceLast, TimeSpan.FromMilliseconds(50), slotFree: true));
    }
}
