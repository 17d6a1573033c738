using Flywheel.Contracts;
using Flywheel.Orchestrator.Sagas;
using Flywheel.Orchestrator.Training;

namespace Flywheel.Orchestrator;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddMessaging(bus => bus
            .AddSagaStateMachine<TrainingRunStateMachine, TrainingRun>(typeof(TrainingRunDefinition))
            .PostgresRepository(new SagaTable<TrainingRun>(DatabaseSchemas.Orchestration, "training_runs", run => run.Model)));
        builder.AddOutbox(DatabaseSchemas.Orchestration);
        builder.Services.AddOptions<OrchestratorOptions>().BindConfiguration(OrchestratorOptions.Section).ValidateOnStart();
        builder.Services.AddHostedService<TrainingRunWatchdog>();
    }
}
