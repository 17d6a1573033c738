using MassTransit;

namespace Flywheel.Orchestrator.Training;

/// <summary>
/// Retries a message a few times when the run's row was changed under it or the database
/// blinked; a message that still fails goes to the error queue and the watchdog fails the run.
/// </summary>
public sealed class TrainingRunDefinition : SagaDefinition<TrainingRun>
{
    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<TrainingRun> sagaConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 1_000, 5_000));
}
