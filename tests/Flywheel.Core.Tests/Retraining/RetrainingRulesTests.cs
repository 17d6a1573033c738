using Flywheel.Core.Retraining;
using Flywheel.Core.Rollouts;

namespace Flywheel.Core.Tests.Retraining;

public sealed class RetrainingRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_first_trigger_starts_a_run()
    {
        var decision = RetrainingRules.Decide(RetrainingTriggers.Drift, RetrainingPolicy.Default, Now, lastStartedAt: null, runsInFlight: 0);

        Assert.True(decision.Start);
    }

    [Fact]
    public void A_trigger_within_the_cooldown_is_skipped_and_says_how_long_is_left()
    {
        var policy = new RetrainingPolicy(CooldownMinutes: 60);

        var decision = RetrainingRules.Decide(RetrainingTriggers.Manual, policy, Now, lastStartedAt: Now.AddMinutes(-20), runsInFlight: 0);

        Assert.False(decision.Start);
        Assert.Contains("cooldown", decision.Reason);
        Assert.Contains("20 min ago", decision.Reason);
        Assert.Contains("40 min to go", decision.Reason);
    }

    [Fact]
    public void A_trigger_once_the_cooldown_has_passed_starts_a_run() =>
        Assert.True(RetrainingRules.Decide(RetrainingTriggers.Schedule, new RetrainingPolicy(CooldownMinutes: 60), Now, Now.AddMinutes(-60), 0).Start);

    [Fact]
    public void The_concurrency_limit_holds_even_after_the_cooldown()
    {
        var decision = RetrainingRules.Decide(RetrainingTriggers.Performance, new RetrainingPolicy(CooldownMinutes: 0, MaxConcurrent: 2), Now, Now.AddDays(-1), runsInFlight: 2);

        Assert.False(decision.Start);
        Assert.Contains("max_concurrent", decision.Reason);
        Assert.True(RetrainingRules.Decide(RetrainingTriggers.Performance, new RetrainingPolicy(CooldownMinutes: 0, MaxConcurrent: 2), Now, Now.AddDays(-1), 1).Start);
    }

    [Theory]
    [InlineData(RetrainingTriggers.Drift, "on_drift")]
    [InlineData(RetrainingTriggers.Performance, "on_performance")]
    public void A_monitor_trigger_the_policy_turns_off_is_skipped(string trigger, string field)
    {
        var policy = new RetrainingPolicy(OnDrift: false, OnPerformance: false);

        var decision = RetrainingRules.Decide(trigger, policy, Now, null, 0);

        Assert.False(decision.Start);
        Assert.Contains(field, decision.Reason);
        Assert.True(RetrainingRules.Decide(RetrainingTriggers.Manual, policy, Now, null, 0).Start);
    }

    [Fact]
    public void Policy_validation_names_every_bad_field()
    {
        var rollout = new RolloutPolicy(ShadowPercent: 0, ShadowMinutes: -1, CanaryPercent: 100, BakeMinutes: 0, AnalysisIntervalSeconds: 0,
            Canary: CanaryPolicy.Default with { MinRequests = 5 });
        var retraining = new RetrainingPolicy(CooldownMinutes: -5, MaxConcurrent: 0, WindowDays: 0);

        var fields = rollout.Validate().Concat(retraining.Validate()).Select(e => e.Field).ToHashSet();

        Assert.Equal(
            new HashSet<string>
            {
                "rollout.shadow_percent", "rollout.shadow_minutes", "rollout.canary_percent", "rollout.bake_minutes",
                "rollout.analysis_interval_seconds", "rollout.canary.min_requests",
                "retraining.cooldown_minutes", "retraining.max_concurrent", "retraining.window_days",
            },
            fields);
        Assert.Empty(RolloutPolicy.Default.Validate());
        Assert.Empty(RetrainingPolicy.Default.Validate());
    }

    [Fact]
    public void An_analysis_interval_longer_than_the_bake_is_refused() =>
        Assert.Contains(new RolloutPolicy(BakeMinutes: 1, AnalysisIntervalSeconds: 120).Validate(), e => e.Field == "rollout.analysis_interval_seconds");
}
