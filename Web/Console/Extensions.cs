using Flywheel.Console.Platform;
using Flywheel.Contracts;

namespace Flywheel.Console;

internal static class Extensions
{
    public static void AddConsoleServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddHttpClient<PlatformClient>(client =>
        {
            client.BaseAddress = new Uri($"https+http://{ResourceNames.Registry}");
            client.Timeout = TimeSpan.FromSeconds(10);
        });
    }
}
