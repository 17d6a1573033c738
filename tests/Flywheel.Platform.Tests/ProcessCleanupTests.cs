namespace Flywheel.Platform.Tests;

public sealed class ProcessCleanupTests
{
    [Fact]
    public async Task Stopping_the_platform_ends_every_process_the_local_services_started()
    {
        var flywheel = await FlywheelApp.StartAsync();
        var pids = flywheel.RecordedProcessIds();
        var data = flywheel.DataDirectory;

        // postgres, redis-server, epmd, the broker's launcher and VM, node (Azurite).
        Assert.True(pids.Count >= 6, $"expected the launchers to record their processes, found {pids.Count} in {data}");
        Assert.All(pids, pid => Assert.True(FlywheelApp.ProcessIsAlive(pid), $"pid {pid} was recorded but is not running"));

        await flywheel.DisposeAsync();

        Assert.All(pids, pid => Assert.False(FlywheelApp.ProcessIsAlive(pid), $"pid {pid} outlived the platform"));
        Assert.False(Directory.Exists(data));
    }
}
