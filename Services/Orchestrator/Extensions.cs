using Flywheel.Contracts;
using Flywheel.Orchestrator.Retraining;
using Flywheel.Orchestrator.Rollouts;
using Flywheel.Orchestrator.Sagas;
using Flywheel.Orchestrator.Training;

namespace Flywheel.Orchestrator;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddMessaging(bus =>
        {
            bus.AddSagaStateMachine<TrainingRunStateMachine, TrainingRun>(typeof(TrainingRunDefinition))
                .PostgresRepository(new SagaTable<TrainingRun>(DatabaseSchemas.Orchestration, "training_runs", run => run.Model));
            bus.AddSagaStateMachine<RolloutStateMachine, Rollout>(typeof(RolloutDefinition))
                .PostgresRepository(new SagaTable<Rollout>(DatabaseSchemas.Orchestration, "rollouts", rollout => rollout.Model));
            bus.AddConsumer<RetrainingTriggerConsumer>(typeof(OrchestratorConsumerDefinition<RetrainingTriggerConsumer>));
            bus.AddConsumer<RolloutStarter>(typeof(OrchestratorConsumerDefinition<RolloutStarter>));
        });
        builder.AddOutbox(DatabaseSchemas.Orchestration);
        builder.Services.AddOptions<OrchestratorOptions>().BindConfiguration(OrchestratorOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<RetrainingPlanner>();
        builder.Services.AddSingleton<CanaryEvidence>();
        builder.Services.AddHostedService<TrainingRunWatchdog>();
        builder.Services.AddHostedService<RetrainingScheduler>();
        builder.Services.AddHostedService<CanaryAnalyst>();
    }
}
