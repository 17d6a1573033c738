using Flywheel.Contracts;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// MassTransit on RabbitMQ from the <see cref="ResourceNames.MessageBus"/> connection string
/// (<c>amqp://user:password@host:port/vhost</c>). MassTransit registers its own bus health check,
/// tagged <c>ready</c>, so <c>/health</c> fails while the broker is unreachable.
/// </summary>
public static class MessagingExtensions
{
    public static TBuilder AddMessaging<TBuilder>(
        this TBuilder builder, Action<IBusRegistrationConfigurator>? configure = null, string connectionName = ResourceNames.MessageBus)
        where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connectionString) || !Uri.TryCreate(connectionString, UriKind.Absolute, out var brokerUri))
        {
            throw new InvalidOperationException(
                $"The message bus is not configured: set ConnectionStrings:{connectionName} to an amqp:// URI.");
        }

        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            // Usage telemetry would call out to the internet from every service; Flywheel keeps its telemetry its own.
            bus.DisableUsageTelemetry();
            configure?.Invoke(bus);
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(brokerUri);
                rabbit.ConfigureEndpoints(context);
            });
        });
        builder.Services.Configure<MassTransitHostOptions>(options =>
        {
            // Start serving HTTP (and health) while the bus connects; health says when it is ready.
            options.WaitUntilStarted = false;
            options.StopTimeout = TimeSpan.FromSeconds(30);
        });
        return builder;
    }
}
