using MassTransit;
using Microsoft.Extensions.Options;

namespace Flywheel.Trainer.Jobs;

public sealed class TrainerOptions
{
    public const string Section = "Flywheel:Trainer";

    /// <summary>Jobs (trainings and trials) one replica runs at once; training is CPU-bound, so about the cores it has over two.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 64)]
    public int MaxConcurrentJobs { get; set; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Deliveries of one job before the broker gives up on it (a job that crashes its trainer every time).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 100)]
    public int MaxDeliveries { get; set; } = 3;
}

/// <summary>
/// Trainer endpoints: bounded concurrency, prefetch no deeper than that so idle replicas get the
/// work, a couple of retries for transient failures, and quorum queues whose delivery limit stops
/// a job that kills its trainer from being redelivered forever.
/// </summary>
public sealed class TrainerJobDefinition<TConsumer>(IOptions<TrainerOptions> options) : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        var limit = options.Value.MaxConcurrentJobs;
        endpointConfigurator.ConcurrentMessageLimit = limit;
        endpointConfigurator.PrefetchCount = limit;
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(1_000, 5_000));
        if (endpointConfigurator is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            rabbit.SetQuorumQueue();
            rabbit.SetQueueArgument("x-delivery-limit", options.Value.MaxDeliveries);
        }
    }
}

public static class TrainerJobs
{
    public static void AddTrainerJobs(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<TrainModelConsumer>(typeof(TrainerJobDefinition<TrainModelConsumer>));
        bus.AddConsumer<RunTrialConsumer>(typeof(TrainerJobDefinition<RunTrialConsumer>));
    }
}
