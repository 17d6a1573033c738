using Flywheel.Inference.PredictionLog;

namespace Microsoft.Extensions.Hosting;

public static class PredictionLogExtensions
{
    /// <summary>How long a stopping worker may take to write what its buffer still holds.</summary>
    public static readonly TimeSpan ShutdownFlushTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The prediction log: <see cref="IPredictionLog"/> for the request path, written to
    /// <c>inference.predictions</c> in the background by <see cref="PredictionLogWriter"/>; and the
    /// error log (<see cref="IPredictionErrorLog"/>) of requests a version failed to score, written
    /// to <c>inference.prediction_errors</c> by <see cref="PredictionErrorWriter"/>.
    /// Needs the database (<c>AddDatabase</c>).
    /// </summary>
    public static TBuilder AddPredictionLog<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<PredictionLogOptions>().BindConfiguration(PredictionLogOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<PredictionLogWriter>();
        builder.Services.AddSingleton<IPredictionLog>(services => services.GetRequiredService<PredictionLogWriter>());
        builder.Services.AddHostedService(services => services.GetRequiredService<PredictionLogWriter>());
        builder.Services.AddSingleton<PredictionErrorWriter>();
        builder.Services.AddSingleton<IPredictionErrorLog>(services => services.GetRequiredService<PredictionErrorWriter>());
        builder.Services.AddHostedService(services => services.GetRequiredService<PredictionErrorWriter>());
        // The default 30 s may be lowered by the environment; the flush on stop needs its time,
        // and Kestrel shares the same budget draining the requests that feed the buffer.
        builder.Services.Configure<HostOptions>(options =>
            options.ShutdownTimeout = options.ShutdownTimeout < ShutdownFlushTimeout ? ShutdownFlushTimeout : options.ShutdownTimeout);
        return builder;
    }
}
