using System.Globalization;
using Flywheel.Contracts.Rollouts;
using Flywheel.Contracts.Serving;
using Flywheel.Core.Rollouts;
using Flywheel.Core.Telemetry;
using MassTransit;

namespace Flywheel.Orchestrator.Rollouts;

/// <summary>
/// A rollout: (shadow →) canary → analysis over the bake period → promote, hold for approval, or
/// roll back. Every traffic change is a <see cref="ChangeTraffic"/> to the registry, which applies it
/// as a deployment change (revision, history with the reason, audit) and answers; the rollout moves
/// on when the answer comes. Analyses come from <see cref="CanaryAnalyst"/>, which reads the
/// evidence; this machine only decides, so it is the same on a redelivery.
/// </summary>
public sealed class RolloutStateMachine : MassTransitStateMachine<Rollout>
{
    public RolloutStateMachine()
    {
        InstanceState(rollout => rollout.CurrentState);

        Event(() => Begin, e => e.CorrelateById(m => m.Message.RolloutId));
        Event(() => Changed, e => e.CorrelateById(m => m.Message.RolloutId));
        Event(() => Refused, e => e.CorrelateById(m => m.Message.RolloutId));
        Event(() => ChangeFaulted, e => e.CorrelateById(m => m.Message.Message.RolloutId));
        Event(() => ShadowEnded, e => e.CorrelateById(m => m.Message.RolloutId));
        Event(() => Analysed, e => e.CorrelateById(m => m.Message.RolloutId));
        Event(() => Approved, e => e.CorrelateById(m => m.Message.RolloutId));
        Event(() => Rejected, e => e.CorrelateById(m => m.Message.RolloutId));

        Initially(
            When(Begin)
                .Then(context => Start(context.Saga, context.Message))
                .IfElse(context => context.Message.Refusal is not null,
                    refused => refused.TransitionTo(Failed),
                    start => start.IfElse(context => context.Saga.Policy.ShadowMinutes > 0,
                        shadow => shadow.Then(context => ChangeTo(context.Saga, RolloutSteps.Shadow, DeploymentActions.Deploy,
                                $"Rollout of version {context.Saga.RolloutVersion}: shadowing {Number(context.Saga.Policy.ShadowPercent)}% of production traffic for {Number(context.Saga.Policy.ShadowMinutes)} min."))
                            .TransitionTo(Shadowing),
                        canary => canary.Then(context => RequestCanary(context.Saga)).TransitionTo(Canary))));

        During(Shadowing,
            When(Changed, context => context.Message.Step == RolloutSteps.Shadow)
                .Then(context =>
                {
                    var (rollout, at) = (context.Saga, context.Message.At);
                    rollout.ShadowStartedAt ??= at;
                    rollout.ShadowEndsAt ??= at.AddMinutes(rollout.Policy.ShadowMinutes);
                    rollout.Record(at, "shadow_started", $"version {rollout.RolloutVersion} shadows {Number(rollout.Policy.ShadowPercent)}% of traffic (revision {context.Message.Revision})");
                }),
            When(ShadowEnded, context => context.Saga.ShadowStartedAt is not null)
                .Then(context => RequestCanary(context.Saga))
                .TransitionTo(Canary));

        During(Canary,
            When(Changed, context => context.Message.Step == RolloutSteps.Canary)
                .Then(context =>
                {
                    var (rollout, at) = (context.Saga, context.Message.At);
                    rollout.CanaryStartedAt ??= at;
                    rollout.BakeEndsAt ??= at.AddMinutes(rollout.Policy.BakeMinutes);
                    rollout.NextAnalysisAt ??= at.AddSeconds(rollout.Policy.AnalysisIntervalSeconds);
                    rollout.Record(at, "canary_started",
                        $"version {rollout.RolloutVersion} takes {Number(rollout.Policy.CanaryPercent)}% of traffic (revision {context.Message.Revision}); baking until {rollout.BakeEndsAt:u}");
                }),
            When(Analysed, context => context.Saga.NextAnalysisAt is { } due && context.Message.At >= due)
                .Then(context => RecordAnalysis(context.Saga, context.Message))
                .If(context => context.Message.Verdict.Outcome == CanaryOutcome.RollBack, rollBack => rollBack
                    .Then(context => RequestRollBack(context.Saga, context.Message.Verdict.Reason))
                    .TransitionTo(RollingBack))
                .If(context => context.Message.Verdict.Outcome == CanaryOutcome.Promote && context.Saga.RequireApproval, hold => hold
                    .Then(context =>
                    {
                        context.Saga.Reason = context.Message.Verdict.Reason;
                        context.Saga.Record(context.Message.At, "awaiting_approval", "the canary passed; the model's policy requires an operator's approval to promote it");
                    })
                    .TransitionTo(AwaitingApproval))
                .If(context => context.Message.Verdict.Outcome == CanaryOutcome.Promote && !context.Saga.RequireApproval, promote => promote
                    .Then(context => RequestPromotion(context.Saga, context.Message.Verdict.Reason))
                    .TransitionTo(Promoting)));

        During(AwaitingApproval,
            When(Approved)
                .Then(context =>
                {
                    var (rollout, message) = (context.Saga, context.Message);
                    rollout.Record(message.At, "approved", $"approved by {message.Actor}{Because(message.Reason)}");
                    RequestPromotion(rollout, $"Approved by {message.Actor}{Because(message.Reason)}. {rollout.Reason}");
                })
                .TransitionTo(Promoting));

        During(Shadowing, Canary, AwaitingApproval,
            When(Rejected)
                .Then(context =>
                {
                    var (rollout, message) = (context.Saga, context.Message);
                    rollout.Record(message.At, "rejected", $"rejected by {message.Actor}{Because(message.Reason)}");
                    RequestRollBack(rollout, $"Rejected by {message.Actor}{Because(message.Reason)}.");
                })
                .TransitionTo(RollingBack));

        During(Promoting,
            When(Changed, context => context.Message.Step == RolloutSteps.Promote)
                .Then(context => context.Saga.Record(context.Message.At, "promoted",
                    $"version {context.Saga.RolloutVersion} serves all traffic (revision {context.Message.Revision})"))
                .TransitionTo(Promoted));

        During(RollingBack,
            When(Changed, context => context.Message.Step == RolloutSteps.RollBack)
                .Then(context => context.Saga.Record(context.Message.At, "rolled_back",
                    $"version {context.Saga.Production} serves all traffic again (revision {context.Message.Revision})"))
                .TransitionTo(RolledBack));

        During(Shadowing, Canary, Promoting, RollingBack,
            When(Refused)
                .Then(context => Fail(context.Saga, $"the registry refused the {context.Message.Step} traffic change: {context.Message.Reason}"))
                .TransitionTo(Failed),
            When(ChangeFaulted)
                .Then(context => Fail(context.Saga,
                    $"the {context.Message.Message.Step} traffic change failed after retries: {FailureReasons.Describe(context.Message.Exceptions.FirstOrDefault()?.ExceptionType, context.Message.Exceptions.FirstOrDefault()?.Message)}"))
                .TransitionTo(Failed));

        // Stragglers (an analysis that crossed a decision, a repeated answer) change nothing.
        OnUnhandledEvent(context => context.Ignore());
    }

    public State Shadowing { get; private set; } = null!;

    public State Canary { get; private set; } = null!;

    public State AwaitingApproval { get; private set; } = null!;

    public State Promoting { get; private set; } = null!;

    public State RollingBack { get; private set; } = null!;

    public State Promoted { get; private set; } = null!;

    public State RolledBack { get; private set; } = null!;

    public State Failed { get; private set; } = null!;

    public Event<BeginRollout> Begin { get; private set; } = null!;

    public Event<TrafficChanged> Changed { get; private set; } = null!;

    public Event<TrafficChangeRefused> Refused { get; private set; } = null!;

    public Event<Fault<ChangeTraffic>> ChangeFaulted { get; private set; } = null!;

    public Event<ShadowPeriodEnded> ShadowEnded { get; private set; } = null!;

    public Event<CanaryAnalysed> Analysed { get; private set; } = null!;

    public Event<RolloutApproved> Approved { get; private set; } = null!;

    public Event<RolloutRejected> Rejected { get; private set; } = null!;

    private static void Start(Rollout rollout, BeginRollout message)
    {
        rollout.Model = message.Model;
        rollout.RolloutVersion = message.Version;
        rollout.Production = message.Production;
        rollout.Policy = message.Policy;
        rollout.RequireApproval = message.RequireApproval;
        rollout.Trigger = message.Trigger;
        rollout.RequestedBy = message.RequestedBy;
        rollout.RequestedAt = message.RequestedAt;
        rollout.Record(message.RequestedAt, "requested",
            $"version {message.Version} against production version {message.Production}, requested by {message.RequestedBy} ({message.Trigger})");
        if (message.Refusal is not null)
        {
            Fail(rollout, message.Refusal);
        }
    }

    private static void RequestCanary(Rollout rollout) =>
        ChangeTo(rollout, RolloutSteps.Canary, DeploymentActions.Deploy,
            $"Rollout of version {rollout.RolloutVersion}: canary at {Number(rollout.Policy.CanaryPercent)}% of traffic, analysed against version {rollout.Production} for {Number(rollout.Policy.BakeMinutes)} min.");

    private static void RequestPromotion(Rollout rollout, string reason)
    {
        rollout.Reason = reason;
        rollout.NextAnalysisAt = null;
        ChangeTo(rollout, RolloutSteps.Promote, DeploymentActions.Promote, reason);
    }

    private static void RequestRollBack(Rollout rollout, string reason)
    {
        rollout.Reason = reason;
        rollout.NextAnalysisAt = null;
        ChangeTo(rollout, RolloutSteps.RollBack, DeploymentActions.Rollback, reason);
    }

    /// <summary>Asks the registry for the traffic of <paramref name="step"/>: always from the production the rollout began with.</summary>
    private static void ChangeTo(Rollout rollout, string step, string action, string reason)
    {
        var (production, canary, shadow) = step switch
        {
            RolloutSteps.Shadow => (rollout.Production, (int?)null, (int?)rollout.RolloutVersion),
            RolloutSteps.Canary => (rollout.Production, rollout.RolloutVersion, null),
            RolloutSteps.Promote => (rollout.RolloutVersion, null, null),
            _ => (rollout.Production, null, null),
        };
        rollout.Outgoing.Add(new ChangeTraffic(
            rollout.CorrelationId, step, rollout.Model, rollout.Production, production,
            canary, canary is null ? null : rollout.Policy.CanaryPercent,
            shadow, shadow is null ? null : rollout.Policy.ShadowPercent,
            action, reason));
    }

    private static void RecordAnalysis(Rollout rollout, CanaryAnalysed message)
    {
        var verdict = message.Verdict;
        rollout.Analyses.Add(new RolloutAnalysis(
            message.At, message.BakeComplete, verdict.Outcome, verdict.Reason, verdict.Checks, message.ProductionRequests, message.CanaryRequests));
        rollout.NextAnalysisAt = verdict.Outcome == CanaryOutcome.Continue ? message.At.AddSeconds(rollout.Policy.AnalysisIntervalSeconds) : null;
        if (verdict.Outcome != CanaryOutcome.Continue)
        {
            rollout.Record(message.At, verdict.Outcome == CanaryOutcome.Promote ? "analysis_passed" : "analysis_failed", verdict.Reason);
        }
    }

    private static void Fail(Rollout rollout, string reason)
    {
        rollout.Reason = reason;
        rollout.NextAnalysisAt = null;
        rollout.Record(DateTimeOffset.UtcNow, "failed", reason);
    }

    private static string Because(string? reason) => string.IsNullOrWhiteSpace(reason) ? "" : $": {reason}";

    private static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
