using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Flywheel.Bench.Serving;

/// <summary>
/// Waits for the bench's platform to be ready, and says why when it will not be: a local service
/// that is not installed (PostgreSQL, Redis, RabbitMQ or Azurite; <c>./flywheel up</c> or
/// <c>./flywheel test</c> installs them) makes its launcher exit at once, and waiting for health
/// would then wait forever.
/// </summary>
public static class PlatformStart
{
    public static async Task WaitUntilHealthyAsync(DistributedApplication app, IReadOnlyList<string> services, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        var healthy = Task.WhenAll(services.Select(name => app.ResourceNotifications.WaitForResourceHealthyAsync(name, timeout.Token)));
        var failed = FirstFailureAsync(app, timeout.Token);
        if (await Task.WhenAny(healthy, failed) == failed && failed is { IsCompletedSuccessfully: true, Result: { } failure })
        {
            throw new InvalidOperationException(
                $"{failure} before the platform was ready. If a local service is missing, run ./flywheel up (or ./flywheel test) once: it installs them.");
        }

        try
        {
            await healthy;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"The platform was not healthy within {limit.TotalMinutes:0} minutes (waiting for {string.Join(", ", services)}).");
        }
        finally
        {
            await timeout.CancelAsync();
        }
    }

    /// <summary>The first resource that fails to start or exits with an error, described; null when the wait is cancelled.</summary>
    private static async Task<string?> FirstFailureAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var change in app.ResourceNotifications.WatchAsync(cancellationToken))
            {
                var state = change.Snapshot.State?.Text;
                if (state == KnownResourceStates.FailedToStart ||
                    (state == KnownResourceStates.Exited && change.Snapshot.ExitCode is { } code && code != 0))
                {
                    return $"'{change.Resource.Name}' {(state == KnownResourceStates.FailedToStart ? "failed to start" : $"exited with code {change.Snapshot.ExitCode}")}";
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return null;
    }
}
