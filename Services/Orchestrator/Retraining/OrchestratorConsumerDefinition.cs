using MassTransit;

namespace Flywheel.Orchestrator.Retraining;

/// <summary>
/// Trigger and rollout consumers retry a few times (a deadlock, a database blip); each is
/// idempotent by the trigger's or the run's id, so a retry decides nothing twice.
/// </summary>
public sealed class OrchestratorConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(200, 1_000, 5_000));
}
