using Flywheel.Contracts;

namespace Flywheel.Inference;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddOnlineStore();
        builder.AddBlobStorage();
        builder.AddMessaging();
        builder.Services.AddSingleton<ServedModels>();
        builder.AddPredictionLog();
    }
}
