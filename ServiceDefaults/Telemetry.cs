namespace Microsoft.Extensions.Hosting;

/// <summary>The activity sources and meters of the libraries Flywheel uses, exported with every service's own.</summary>
public static class Telemetry
{
    public static readonly string[] ActivitySourceNames =
    [
        MassTransit.Logging.DiagnosticHeaders.DefaultListenerName,
        "Npgsql",
        "OpenTelemetry.Instrumentation.StackExchangeRedis",
        "Azure.*",
        "Flywheel.*",
    ];

    public static readonly string[] MeterNames =
    [
        MassTransit.Monitoring.InstrumentationOptions.MeterName,
        "Npgsql",
        "Flywheel.*",
    ];
}
