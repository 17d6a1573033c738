using Flywheel.Console.Platform;
using Flywheel.Console.Security;
using Flywheel.Contracts;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Flywheel.Console;

internal static class Extensions
{
    public static void AddConsoleServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddOptions<ConsoleOptions>()
            .BindConfiguration(ConsoleOptions.Section)
            .Validate(options => options.RunRefreshInterval > TimeSpan.Zero, "Console:RunRefreshInterval must be positive.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHttpClient<PlatformClient>(client =>
        {
            client.BaseAddress = new Uri($"https+http://{ResourceNames.Registry}");
            client.Timeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddHttpClient<MonitorClient>(client =>
        {
            client.BaseAddress = new Uri($"https+http://{ResourceNames.DriftMonitor}");
            client.Timeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddScoped<OperatorSession>();
        Radzen.ServiceCollectionExtensions.AddRadzenComponents(builder.Services);
    }
}
