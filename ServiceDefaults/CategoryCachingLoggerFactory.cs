using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// One logger per category over Serilog's logger factory. Serilog's factory builds a new logger
/// on every <see cref="ILoggerFactory.CreateLogger"/> (with its own Serilog context logger and
/// event-id cache), and ASP.NET Core's typed results ask for one on every response they write:
/// that was about 7% of what the inference worker allocated per prediction. The framework's own
/// factory keeps one per category too; categories are names in code, so the cache stays small.
/// </summary>
internal sealed class CategoryCachingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) =>
        _loggers.TryGetValue(categoryName, out var logger) ? logger : _loggers.GetOrAdd(categoryName, inner.CreateLogger(categoryName));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    /// <summary>Wraps the <see cref="ILoggerFactory"/> registered last (Serilog's) in the cache.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(ILoggerFactory));
        if (registered.ImplementationFactory is not { } create)
        {
            throw new InvalidOperationException("Serilog's logger factory is expected to be registered through a factory method.");
        }

        services.Remove(registered);
        services.AddSingleton<ILoggerFactory>(provider => new CategoryCachingLoggerFactory((ILoggerFactory)create(provider)));
    }
}
