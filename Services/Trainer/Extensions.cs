using Flywheel.Trainer.Batch;
using Flywheel.Trainer.Jobs;

namespace Flywheel.Trainer;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddBlobStorage();
        builder.Services.AddOptions<TrainerOptions>().BindConfiguration(TrainerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.AddMessaging(bus =>
        {
            bus.AddTrainerJobs();
            bus.AddBatchScoring();
        });
        builder.Services.AddSingleton<SnapshotReader>();
        builder.Services.AddSingleton<ArtifactStore>();
    }
}
