using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Flywheel.Platform.Tests;

/// <summary>The service defaults' logging: Serilog's pipeline, one logger per category, events still reaching the other providers.</summary>
public sealed class ServiceDefaultsLoggingTests
{
    [Fact]
    public async Task The_logger_factory_keeps_one_logger_per_category_and_still_writes_through_serilog_to_the_other_providers()
    {
        var builder = WebApplication.CreateBuilder();
        builder.AddServiceDefaults();
        var captured = new CapturingProvider();
        builder.Services.AddSingleton<ILoggerProvider>(captured);
        await using var app = builder.Build();

        var factory = app.Services.GetRequiredService<ILoggerFactory>();
        var first = factory.CreateLogger("Flywheel.Test");
        Assert.Same(first, factory.CreateLogger("Flywheel.Test"));
        Assert.NotSame(first, factory.CreateLogger("Flywheel.Other"));

        first.LogWarning("written {Value}", 42);
        factory.CreateLogger("Microsoft.AspNetCore.Routing").LogInformation("below the framework's level");

        Assert.Equal(["Flywheel.Test: written 42"], captured.Messages);
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _messages = new();

        public IReadOnlyList<string> Messages => [.. _messages];

        public ILogger CreateLogger(string categoryName) => new Capturing(categoryName, _messages);

        public void Dispose()
        {
        }

        private sealed class Capturing(string category, ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue($"{category}: {formatter(state, exception)}");
        }
    }
}
