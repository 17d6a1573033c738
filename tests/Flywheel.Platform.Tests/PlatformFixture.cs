namespace Flywheel.Platform.Tests;

/// <summary>One running platform shared by the tests of a class that only read from it.</summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    private FlywheelApp? _flywheel;

    public FlywheelApp Flywheel => _flywheel ?? throw new InvalidOperationException("The platform has not started.");

    public async Task InitializeAsync() => _flywheel = await FlywheelApp.StartAsync();

    public async Task DisposeAsync()
    {
        if (_flywheel is not null)
        {
            await _flywheel.DisposeAsync();
        }
    }
}

/// <summary>Test classes that only add data under names of their own share one platform.</summary>
[CollectionDefinition(Name)]
public sealed class SharedPlatform : ICollectionFixture<PlatformFixture>
{
    public const string Name = "shared platform";
}
