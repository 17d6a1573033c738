using Flywheel.Trainer.Jobs;
using MassTransit;

namespace Flywheel.Trainer.Batch;

public static class BatchScoring
{
    /// <summary>Batch scoring jobs, run like the other trainer jobs (bounded concurrency, redelivery after a crash).</summary>
    public static IBusRegistrationConfigurator AddBatchScoring(this IBusRegistrationConfigurator bus)
    {
        bus.AddOptions<BatchScoringOptions>().BindConfiguration(BatchScoringOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        bus.AddConsumer<ScoreBatchConsumer>(typeof(TrainerJobDefinition<ScoreBatchConsumer>));
        bus.AddConsumer<ScoreBatchFaultConsumer>();
        return bus;
    }
}
