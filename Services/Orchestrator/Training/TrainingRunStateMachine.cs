using Flywheel.Contracts.Training;
using Flywheel.Core.Telemetry;
using MassTransit;

namespace Flywheel.Orchestrator.Training;

/// <summary>
/// A training run: snapshot → (search) → train, evaluate, export, parity, profile, upload →
/// register. Each step is a message to the service that owns it; the run's state and the
/// messages it sends next commit together (see <see cref="Sagas.PostgresSagaRepositoryContextFactory{TSaga}"/>),
/// so a restart of any service resumes the run where it was. A redelivered or late message for a
/// step the run has left is ignored: a run is never executed twice in effect.
/// </summary>
public sealed class TrainingRunStateMachine : MassTransitStateMachine<TrainingRun>
{
    /// <summary>Candidates tried, one trial each, when the trainer is <c>auto</c>.</summary>
    public static readonly IReadOnlyList<string> AutoTrainers = ["lightgbm", "fasttree", "sdca"];

    public TrainingRunStateMachine()
    {
        InstanceState(run => run.CurrentState);

        Event(() => Requested, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => SnapshotCreated, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => SnapshotFailed, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => TrialCompleted, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => TrialFailed, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => StepProgressed, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => Trained, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => TrainingFailed, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => Registered, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => RegistrationFailed, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => TimedOut, e => e.CorrelateById(m => m.Message.RunId));
        Event(() => SnapshotFaulted, e => e.CorrelateById(m => m.Message.Message.RunId));
        Event(() => TrialFaulted, e => e.CorrelateById(m => m.Message.Message.RunId));
        Event(() => TrainingFaulted, e => e.CorrelateById(m => m.Message.Message.RunId));
        Event(() => RegistrationFaulted, e => e.CorrelateById(m => m.Message.Message.RunId));

        Initially(
            When(Requested)
                .Then(context =>
                {
                    var (run, message) = (context.Saga, context.Message);
                    run.Model = message.Model;
                    run.Spec = message.Spec;
                    run.Trigger = message.Trigger;
                    run.RequestedBy = message.RequestedBy;
                    run.ParentVersion = message.ParentVersion;
                    run.RequestedAt = message.RequestedAt;
                    run.Record(TrainingSteps.Snapshot, TrainingSteps.Running, DateTimeOffset.UtcNow);
                    run.Outgoing.Add(new CreateTrainingSnapshot(run.CorrelationId, run.Model, run.Spec.From, run.Spec.To));
                })
                .TransitionTo(Snapshotting));

        During(Snapshotting,
            When(SnapshotCreated)
                .Then(context =>
                {
                    var (run, message) = (context.Saga, context.Message);
                    run.SnapshotId = message.SnapshotId;
                    run.SnapshotSha256 = message.Sha256;
                    run.Rows = message.Rows;
                    run.Record(TrainingSteps.Snapshot, TrainingSteps.Succeeded, DateTimeOffset.UtcNow,
                        $"{message.Rows} rows ({message.LabelsJoined} labels joined point-in-time, {message.LabelsUnmatched} without earlier features), sha256 {message.Sha256}");
                    PlanTraining(run);
                })
                .IfElse(context => context.Saga.TrialsPlanned > 0,
                    search => search.TransitionTo(Searching),
                    train => train.TransitionTo(Training)),
            When(SnapshotFailed)
                .Then(context => Fail(context.Saga, TrainingSteps.Snapshot, context.Message.Reason))
                .TransitionTo(Failed),
            When(SnapshotFaulted)
                .Then(context => Fail(context.Saga, TrainingSteps.Snapshot, Reason(context.Message)))
                .TransitionTo(Failed));

        During(Searching,
            When(TrialCompleted)
                .Then(context =>
                {
                    var message = context.Message;
                    AddTrial(context.Saga, new TrialOutcome(message.Trial, message.Trainer, message.Hyperparameters, message.Metric, message.Value, message.HigherIsBetter, null));
                })
                .If(context => context.Saga.Trials.Count == context.Saga.TrialsPlanned, finished => finished
                    .Then(context => ChooseAndTrain(context.Saga))
                    .IfElse(context => context.Saga.Error is null,
                        train => train.TransitionTo(Training),
                        failed => failed.TransitionTo(Failed))),
            When(TrialFailed)
                .Then(context => AddTrial(context.Saga, new TrialOutcome(context.Message.Trial, null, null, null, null, false, context.Message.Reason)))
                .If(context => context.Saga.Trials.Count == context.Saga.TrialsPlanned, finished => finished
                    .Then(context => ChooseAndTrain(context.Saga))
                    .IfElse(context => context.Saga.Error is null,
                        train => train.TransitionTo(Training),
                        failed => failed.TransitionTo(Failed))),
            When(TrialFaulted)
                .Then(context => AddTrial(context.Saga, new TrialOutcome(context.Message.Message.Trial, null, null, null, null, false, Reason(context.Message))))
                .If(context => context.Saga.Trials.Count == context.Saga.TrialsPlanned, finished => finished
                    .Then(context => ChooseAndTrain(context.Saga))
                    .IfElse(context => context.Saga.Error is null,
                        train => train.TransitionTo(Training),
                        failed => failed.TransitionTo(Failed))));

        During(Training,
            When(Trained)
                .Then(context =>
                {
                    var (run, result) = (context.Saga, context.Message);
                    run.Result = result;
                    run.Record(TrainingSteps.Register, TrainingSteps.Running, DateTimeOffset.UtcNow);
                    run.Outgoing.Add(new RegisterModelVersion(
                        run.CorrelationId, run.Model, run.SnapshotId!.Value, run.SnapshotSha256!, run.Rows, result.Trainer, result.Hyperparameters,
                        run.Spec.Seed, run.Trigger, run.ParentVersion, result.Artifact, result.Metrics, result.Parity, result.Split,
                        result.ReferenceProfileJson, result.CodeVersion));
                })
                .TransitionTo(Registering),
            When(TrainingFailed)
                .Then(context => Fail(context.Saga, context.Message.Step, context.Message.Reason))
                .TransitionTo(Failed),
            When(TrainingFaulted)
                .Then(context => Fail(context.Saga, context.Saga.Steps.LastOrDefault(s => s.State == TrainingSteps.Running)?.Name ?? TrainingSteps.Train, Reason(context.Message)))
                .TransitionTo(Failed));

        During(Registering,
            When(Registered)
                .Then(context =>
                {
                    context.Saga.ModelVersion = context.Message.Version;
                    context.Saga.Record(TrainingSteps.Register, TrainingSteps.Succeeded, DateTimeOffset.UtcNow, $"version {context.Message.Version}");
                })
                .TransitionTo(Succeeded),
            When(RegistrationFailed)
                .Then(context => Fail(context.Saga, TrainingSteps.Register, context.Message.Reason))
                .TransitionTo(Failed),
            When(RegistrationFaulted)
                .Then(context => Fail(context.Saga, TrainingSteps.Register, Reason(context.Message)))
                .TransitionTo(Failed));

        // Trainers report steps as they go; those reports may arrive after the result they led to.
        DuringAny(
            When(StepProgressed)
                .Then(context => context.Saga.Record(context.Message.Step, context.Message.State, context.Message.At, context.Message.Detail)));

        During(Snapshotting, Searching, Training, Registering,
            When(TimedOut)
                .Then(context => Fail(context.Saga, context.Saga.Steps.LastOrDefault(s => s.State == TrainingSteps.Running)?.Name ?? "run", context.Message.Reason))
                .TransitionTo(Failed));

        // Duplicates and stragglers (a redelivery after a crash, a trial that finished after the
        // search was decided) change nothing.
        OnUnhandledEvent(context => context.Ignore());
    }

    public State Snapshotting { get; private set; } = null!;

    public State Searching { get; private set; } = null!;

    public State Training { get; private set; } = null!;

    public State Registering { get; private set; } = null!;

    public State Succeeded { get; private set; } = null!;

    public State Failed { get; private set; } = null!;

    public Event<TrainingRunRequested> Requested { get; private set; } = null!;

    public Event<TrainingSnapshotCreated> SnapshotCreated { get; private set; } = null!;

    public Event<TrainingSnapshotFailed> SnapshotFailed { get; private set; } = null!;

    public Event<TrialCompleted> TrialCompleted { get; private set; } = null!;

    public Event<TrialFailed> TrialFailed { get; private set; } = null!;

    public Event<TrainingStepProgressed> StepProgressed { get; private set; } = null!;

    public Event<ModelTrained> Trained { get; private set; } = null!;

    public Event<TrainingFailed> TrainingFailed { get; private set; } = null!;

    public Event<ModelVersionRegistered> Registered { get; private set; } = null!;

    public Event<ModelVersionRegistrationFailed> RegistrationFailed { get; private set; } = null!;

    public Event<TrainingRunTimedOut> TimedOut { get; private set; } = null!;

    public Event<Fault<CreateTrainingSnapshot>> SnapshotFaulted { get; private set; } = null!;

    public Event<Fault<RunTrial>> TrialFaulted { get; private set; } = null!;

    public Event<Fault<TrainModel>> TrainingFaulted { get; private set; } = null!;

    public Event<Fault<RegisterModelVersion>> RegistrationFaulted { get; private set; } = null!;

    /// <summary>Why a step's consumer gave up after its retries.</summary>
    private static string Reason<T>(Fault<T> fault) =>
        "gave up after retries: " + FailureReasons.Describe(fault.Exceptions.FirstOrDefault()?.ExceptionType, fault.Exceptions.FirstOrDefault()?.Message);

    /// <summary>
    /// Plans the trials of a search (or of <c>auto</c>: one per candidate trainer), or goes straight to training.
    /// Trial 0 of a trainer uses the requested (or default) hyperparameters; later trials are sampled by the
    /// trainer from the run's seed and the trial number, so a search is reproducible.
    /// </summary>
    private static void PlanTraining(TrainingRun run)
    {
        var auto = run.Spec.Trainer == "auto";
        var trials = Math.Max(run.Spec.SearchTrials, auto ? AutoTrainers.Count : 0);
        if (trials == 0)
        {
            run.Trainer = run.Spec.Trainer;
            run.Hyperparameters = run.Spec.Hyperparameters?.ToDictionary() ?? [];
            SendTrain(run);
            return;
        }

        run.TrialsPlanned = trials;
        run.Record(TrainingSteps.Search, TrainingSteps.Running, DateTimeOffset.UtcNow, $"{trials} trials");
        for (var trial = 0; trial < trials; trial++)
        {
            var trainer = auto ? AutoTrainers[trial % AutoTrainers.Count] : run.Spec.Trainer;
            var firstOfTrainer = auto ? trial < AutoTrainers.Count : trial == 0;
            run.Outgoing.Add(new RunTrial(
                run.CorrelationId, trial, run.Model, run.SnapshotId!.Value, trainer,
                firstOfTrainer ? run.Spec.Hyperparameters ?? new Dictionary<string, double>() : null, run.Spec.Seed));
        }
    }

    private static void AddTrial(TrainingRun run, TrialOutcome outcome)
    {
        if (run.Trials.All(t => t.Trial != outcome.Trial))
        {
            run.Trials.Add(outcome);
        }
    }

    private static void ChooseAndTrain(TrainingRun run)
    {
        var scored = run.Trials.Where(t => t.Value is not null).ToList();
        if (scored.Count == 0)
        {
            Fail(run, TrainingSteps.Search, "every trial failed: " + string.Join("; ", run.Trials.OrderBy(t => t.Trial).Select(t => $"trial {t.Trial}: {t.Error}")));
            return;
        }

        var best = scored
            .OrderBy(t => t.HigherIsBetter ? -t.Value!.Value : t.Value!.Value)
            .ThenBy(t => t.Trial)
            .First();
        run.Trainer = best.Trainer;
        run.Hyperparameters = best.Hyperparameters!.ToDictionary();
        run.Record(TrainingSteps.Search, TrainingSteps.Succeeded, DateTimeOffset.UtcNow,
            $"trial {best.Trial} won: {best.Trainer}, {best.Metric} {best.Value:G6} on the validation split ({scored.Count} of {run.TrialsPlanned} trials scored)");
        SendTrain(run);
    }

    private static void SendTrain(TrainingRun run) =>
        run.Outgoing.Add(new TrainModel(run.CorrelationId, run.Model, run.SnapshotId!.Value, run.Trainer!, run.Hyperparameters!, run.Spec.Seed));

    private static void Fail(TrainingRun run, string step, string reason)
    {
        run.Error = $"{step}: {reason}";
        run.Record(step, TrainingSteps.Failed, DateTimeOffset.UtcNow, reason);
    }
}
