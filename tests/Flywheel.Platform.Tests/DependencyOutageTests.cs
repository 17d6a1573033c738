using Aspire.Hosting.ApplicationModel;
using Flywheel.Contracts;

namespace Flywheel.Platform.Tests;

public sealed class DependencyOutageTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private FlywheelApp _flywheel = null!;

    public async Task InitializeAsync() => _flywheel = await FlywheelApp.StartAsync();

    public async Task DisposeAsync() => await _flywheel.DisposeAsync();

    [Fact]
    public async Task Stopping_redis_makes_the_services_that_use_it_unhealthy_until_it_returns()
    {
        string[] usesRedis = [ResourceNames.Gateway, ResourceNames.Registry, ResourceNames.Inference];
        string[] doesNot = [ResourceNames.Orchestrator, ResourceNames.DriftMonitor];

        var stopped = await _flywheel.App.ResourceCommands.ExecuteCommandAsync(ResourceNames.Redis, KnownResourceCommands.StopCommand);
        Assert.True(stopped.Success, stopped.Message);

        foreach (var service in usesRedis)
        {
            var down = await _flywheel.WaitForHealthAsync(service, h => h.StatusCode == 503, Patience);
            Assert.Equal("Unhealthy", down.Checks[PlatformTests.RedisCheck]);
        }

        foreach (var service in doesNot)
        {
            using var client = _flywheel.CreateClient(service);
            var health = await FlywheelApp.GetHealthAsync(client);
            Assert.True(health.StatusCode == 200, $"{service} does not use Redis but reported {health}");
        }

        var started = await _flywheel.App.ResourceCommands.ExecuteCommandAsync(ResourceNames.Redis, KnownResourceCommands.StartCommand);
        Assert.True(started.Success, started.Message);

        foreach (var service in usesRedis)
        {
            var up = await _flywheel.WaitForHealthAsync(service, h => h.StatusCode == 200, Patience);
            Assert.Equal("Healthy", up.Checks[PlatformTests.RedisCheck]);
        }
    }
}
