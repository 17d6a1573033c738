using Flywheel.Contracts;
using Flywheel.DriftMonitor.Monitoring;
using Flywheel.DriftMonitor.Security;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Flywheel.DriftMonitor;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddMessaging();
        builder.AddOutbox(DatabaseSchemas.Monitoring);
        builder.AddDeploymentCatalog();
        builder.AddMonitorSecurity();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddOptions<MonitoringOptions>().BindConfiguration(MonitoringOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<MonitorMetrics>();
        builder.Services.AddSingleton<WindowEvaluator>();
        builder.Services.AddHostedService<MonitorLoop>();
    }
}
