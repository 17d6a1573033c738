using Flywheel.Console.Platform;
using Microsoft.AspNetCore.Components;

namespace Flywheel.Console.Components;

/// <summary>
/// A component that reads from the control plane. Its calls are cancelled when it goes away (the
/// user navigated on, the circuit closed), so no answer lands on a component nobody sees.
/// </summary>
public abstract class PlatformComponent : ComponentBase, IDisposable
{
    private readonly CancellationTokenSource _disposed = new();

    [Inject]
    protected PlatformClient Platform { get; set; } = null!;

    protected CancellationToken Disposed => _disposed.Token;

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        // Cancelled but not disposed: a call still finishing may read the token after the
        // component is gone, and must see it cancelled rather than fail on a disposed source.
        if (disposing)
        {
            _disposed.Cancel();
        }
    }
}
