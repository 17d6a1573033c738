using Flywheel.Core.Serving;
using Flywheel.Inference.Feedback;
using Flywheel.Inference.Models;
using Flywheel.Inference.Serving;
using Flywheel.Security;

namespace Flywheel.Inference;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddOnlineStore();
        builder.AddBlobStorage();
        builder.AddMessaging();
        builder.AddDeploymentCatalog();

        builder.Services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        // Predictions' feature and output maps, and the KServe V1 answer that carries them, are
        // written without the serializer's per-value type resolution and stack of frames.
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.Converters.Add(new ValueMapJsonConverter());
            options.SerializerOptions.Converters.Add(new PredictResponseConverter());
        });
        builder.Services.AddSingleton<ServedModels>();
        builder.Services.AddSingleton<InferenceMetrics>();
        // PII features reach the prediction log only as pseudonyms under the platform's PII key, a
        // secret like the admin key: a worker without one does not start rather than log them unkeyed.
        builder.Services.AddSingleton(PiiRedactionFrom(builder.Configuration));
        builder.Services.AddSingleton<Predictor>();
        builder.Services.AddSingleton<SessionFactory>();
        builder.Services.AddSingleton<ModelLoader>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelLoader>());
        builder.AddPredictionLog();
        builder.Services.AddSingleton<FeedbackStore>();
        // Every data-plane call's key is checked here too, cached as the gateway caches it.
        builder.Services.AddSingleton(ApiKeyCacheSettings.Default);
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ApiKeyStore>());
        builder.Services.AddSingleton<FeedbackMetrics>();
    }

    /// <summary>The PII key is <c>Flywheel:PiiKey</c>: created once per data folder for local runs, a Key Vault secret on Azure.</summary>
    private static PiiRedaction PiiRedactionFrom(IConfiguration configuration)
    {
        var key = configuration["Flywheel:PiiKey"];
        if (string.IsNullOrWhiteSpace(key) || key.Trim().Length < PiiRedaction.MinKeyLength)
        {
            throw new InvalidOperationException(
                $"Flywheel:PiiKey must be set to a secret of at least {PiiRedaction.MinKeyLength} characters: PII features are logged only as pseudonyms under it (docs/architecture.md, \"Prediction log\").");
        }

        return new PiiRedaction(key);
    }
}
