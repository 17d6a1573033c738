using MassTransit;

namespace Flywheel.Registry.Training;

/// <summary>
/// Registry consumers retry a few times (a deadlock, a database or Blob blip); after that the
/// message faults and the run that sent it fails with the error.
/// </summary>
public sealed class RegistryConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(200, 1_000, 5_000));
}
