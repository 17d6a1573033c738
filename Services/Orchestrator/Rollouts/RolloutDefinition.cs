using MassTransit;

namespace Flywheel.Orchestrator.Rollouts;

/// <summary>Retries a message when the rollout's row changed under it or the database blinked.</summary>
public sealed class RolloutDefinition : SagaDefinition<Rollout>
{
    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<Rollout> sagaConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 1_000, 5_000));
}
