namespace Flywheel.Console.Platform;

public sealed partial class PlatformClient
{
    /// <summary>Every model at a glance; traffic over the registry's default window (five minutes).</summary>
    public Task<ApiResult<OverviewView>> GetOverviewAsync(CancellationToken cancellationToken) =>
        GetAsync<OverviewView>("/api/overview", cancellationToken);
}
