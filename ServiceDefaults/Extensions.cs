using System.Text.Json;
using System.Text.Json.Serialization;
using Flywheel.Contracts;
using Flywheel.Core.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Azure.Monitor.OpenTelemetry.Exporter;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Serilog;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every Flywheel service and worker shares: telemetry to the Aspire dashboard, structured
/// logs, health endpoints, service discovery, resilient HTTP clients and ProblemDetails.
/// </summary>
public static class Extensions
{
    public const string HealthPath = HealthEndpoints.Health;
    public const string AlivePath = HealthEndpoints.Alive;
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureLogging();
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddProblemDetails();
        // The public contract (API.md) is snake_case JSON.
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        });
        builder.Services.AddExceptionHandler<BadRequestBodyHandler>();
        // A route or query value that does not bind (an id that is not a UUID, ?limit=abc) throws, so
        // the handler above answers it with ProblemDetails naming the parameter; otherwise ASP.NET Core
        // does so only in Development and answers a bare 400 in Production.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    /// <summary>
    /// Serilog is the logging pipeline (enrichment, console output, configuration-driven levels);
    /// its events are also written to the other providers, so the OpenTelemetry provider ships
    /// them to the dashboard with the trace and span ids of the activity they were written in.
    /// </summary>
    private static void ConfigureLogging(this IHostApplicationBuilder builder)
    {
        var serviceName = builder.Environment.ApplicationName;
        // Serilog owns console output; the only other provider is OpenTelemetry's.
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(
            (services, logger) => logger
                .ReadFrom.Configuration(builder.Configuration)
                .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("System.Net.Http.HttpClient", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("Polly", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("Npgsql", Serilog.Events.LogEventLevel.Warning)
                // YARP logs every proxied request at Information: at thousands of predictions a
                // second that is the gateway's largest cost. Traces and metrics carry the same facts.
                .MinimumLevel.Override("Yarp", Serilog.Events.LogEventLevel.Warning)
                .Enrich.FromLogContext()
                .Enrich.WithProperty("service", serviceName)
                .WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}"),
            writeToProviders: true);
        CategoryCachingLoggerFactory.Decorate(builder.Services);
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
    }

    private static void ConfigureOpenTelemetry(this IHostApplicationBuilder builder)
    {
        // The Azure SDK only emits activities when asked to.
        AppContext.SetSwitch("Azure.Experimental.EnableActivitySource", true);

        var predictionTraceRatio = PredictionTracing.ParseRatio(builder.Configuration[PredictionTracing.RatioKey]);
        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(Telemetry.MeterNames))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(Telemetry.ActivitySourceNames)
                .AddAspNetCoreInstrumentation(aspnet =>
                    // Health probes arrive every few seconds; tracing them drowns the real requests.
                    // Predictions are traced at a ratio (PredictionTracing says why). A request the
                    // filter drops is not recorded, and neither are the calls it makes: the gateway's
                    // forward carries the decision to the worker in its traceparent.
                    aspnet.Filter = context => !IsHealthRequest(context.Request.Path) && PredictionTracing.Keep(
                        PredictionTracing.IsPrediction(context.Request.Method, context.Request.Path.Value),
                        callerSampled: System.Diagnostics.Activity.Current?.HasRemoteParent == true,
                        predictionTraceRatio,
                        Random.Shared.NextDouble()))
                .AddHttpClientInstrumentation(http =>
                    http.FilterHttpRequestMessage = request => request.RequestUri is null || !IsHealthRequest(request.RequestUri.AbsolutePath)));

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        // On Azure: traces, metrics and logs to Application Insights.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]))
        {
            builder.Services.AddOpenTelemetry().UseAzureMonitorExporter(options =>
                options.ConnectionString = builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        }
    }

    private static void AddDefaultHealthChecks(this IHostApplicationBuilder builder) =>
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);

    /// <summary>
    /// Maps <c>/alive</c> (the process answers) and <c>/health</c> (the process and everything it
    /// depends on) in every environment. The gateway never routes to them: orchestrators and
    /// probes call each service directly.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthPath, new HealthCheckOptions { ResponseWriter = HealthReportWriter.WriteAsync })
            .DisableHttpMetrics();
        app.MapHealthChecks(AlivePath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
            ResponseWriter = HealthReportWriter.WriteAsync,
        }).DisableHttpMetrics();
        return app;
    }

    private static bool IsHealthRequest(PathString path) =>
        path.StartsWithSegments(HealthPath) || path.StartsWithSegments(AlivePath);

    private static bool IsHealthRequest(string path) => IsHealthRequest(new PathString(path));
}
