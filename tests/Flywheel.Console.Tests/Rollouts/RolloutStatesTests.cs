using Flywheel.Console.Rollouts;

namespace Flywheel.Console.Tests.Rollouts;

public sealed class RolloutStatesTests
{
    [Theory]
    [InlineData("shadowing", false, true, true)]
    [InlineData("canary", false, true, true)]
    [InlineData("awaiting_approval", true, true, true)]
    [InlineData("promoting", false, false, true)]
    [InlineData("rolling_back", false, false, true)]
    [InlineData("promoted", false, false, false)]
    [InlineData("rolled_back", false, false, false)]
    [InlineData("failed", false, false, false)]
    public void Only_a_waiting_canary_can_be_approved_and_only_an_unfinished_rollout_rejected(string state, bool approve, bool reject, bool active)
    {
        Assert.Equal(approve, RolloutStates.CanApprove(state));
        Assert.Equal(reject, RolloutStates.CanReject(state));
        Assert.Equal(active, RolloutStates.IsActive(state));
    }

    [Fact]
    public void States_and_outcomes_read_as_words()
    {
        Assert.Equal("Awaiting approval", RolloutStates.Label("awaiting_approval"));
        Assert.Equal("Roll back", RolloutStates.Outcome("roll_back"));
        Assert.Equal("Keep baking", RolloutStates.Outcome("continue"));
    }
}
