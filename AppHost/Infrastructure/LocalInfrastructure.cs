using System.Net;
using System.Net.Sockets;
using Flywheel.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Flywheel.AppHost.Infrastructure;

/// <summary>
/// PostgreSQL, Redis, RabbitMQ and Azurite as local executables, each started through a small
/// launcher script in <c>AppHost/local/</c> that keeps its data under the data directory, writes
/// the PIDs it started there, and stops them when Aspire stops it. Each has a health check
/// that speaks its protocol, so services wait until it really answers.
/// </summary>
internal static class LocalInfrastructure
{
    public static FlywheelInfrastructure Add(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        Directory.CreateDirectory(options.DataDirectory);
        return new FlywheelInfrastructure(
            AddPostgres(builder, options),
            AddRedis(builder, options),
            AddRabbitMq(builder, options),
            AddAzurite(builder, options));
    }

    private static Dependency AddPostgres(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var data = Path.Combine(options.DataDirectory, ResourceNames.Postgres);
        var passwordFile = LocalSecrets.PasswordFile(data, "postgres");
        var server = Launcher(builder, options, ResourceNames.Postgres, "postgres.sh", "tcp")
            .WithArgs(context =>
            {
                var endpoint = ((IResourceWithEndpoints)context.Resource).GetEndpoint("tcp");
                context.Args.Add(data);
                context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add(passwordFile);
            });
        var endpoint = server.GetEndpoint("tcp");
        var password = LocalSecrets.Read(passwordFile);
        var connection = builder.AddConnectionString(
            ResourceNames.Database,
            ReferenceExpression.Create(
                $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Username=postgres;Password={password};Database=flywheel"));
        AddProbe(builder, server, ct => Probes.PostgresAsync(endpoint, password, ct));
        return new Dependency(connection, server);
    }

    private static Dependency AddRedis(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var data = Path.Combine(options.DataDirectory, ResourceNames.Redis);
        var passwordFile = LocalSecrets.PasswordFile(data, "redis");
        var server = Launcher(builder, options, ResourceNames.Redis, "redis.sh", "tcp")
            .WithArgs(context =>
            {
                var endpoint = ((IResourceWithEndpoints)context.Resource).GetEndpoint("tcp");
                context.Args.Add(data);
                context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add(passwordFile);
            });
        var endpoint = server.GetEndpoint("tcp");
        var password = LocalSecrets.Read(passwordFile);
        var connection = builder.AddConnectionString(
            ResourceNames.OnlineStore,
            ReferenceExpression.Create(
                $"{endpoint.Property(EndpointProperty.Host)}:{endpoint.Property(EndpointProperty.Port)},password={password},abortConnect=false"));
        AddProbe(builder, server, ct => Probes.RedisAsync(endpoint, password, ct));
        return new Dependency(connection, server);
    }

    private static Dependency AddRabbitMq(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var data = Path.Combine(options.DataDirectory, ResourceNames.RabbitMq);
        var passwordFile = LocalSecrets.PasswordFile(data, "rabbitmq");
        var server = Launcher(builder, options, ResourceNames.RabbitMq, "rabbitmq.sh", "amqp")
            .WithArgs(context =>
            {
                var endpoint = ((IResourceWithEndpoints)context.Resource).GetEndpoint("amqp");
                context.Args.Add(data);
                context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
                // Erlang distribution and its port mapper need ports of their own; any free ones do.
                context.Args.Add(FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
                context.Args.Add(FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
                context.Args.Add(passwordFile);
            });
        var endpoint = server.GetEndpoint("amqp");
        var password = LocalSecrets.Read(passwordFile);
        var connection = builder.AddConnectionString(
            ResourceNames.MessageBus,
            ReferenceExpression.Create(
                $"amqp://flywheel:{password}@{endpoint.Property(EndpointProperty.Host)}:{endpoint.Property(EndpointProperty.Port)}/"));
        AddProbe(builder, server, ct => Probes.AmqpAsync(endpoint, ct));
        return new Dependency(connection, server);
    }

    private static Dependency AddAzurite(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var data = Path.Combine(options.DataDirectory, ResourceNames.Azurite);
        var server = Launcher(builder, options, ResourceNames.Azurite, "azurite.sh", "blob")
            .WithArgs(context =>
            {
                var endpoint = ((IResourceWithEndpoints)context.Resource).GetEndpoint("blob");
                context.Args.Add(data);
                context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add(options.ToolsDirectory);
            });
        var endpoint = server.GetEndpoint("blob");
        // 127.0.0.1, not localhost: Azurite rejects uploads addressed to localhost on a non-default port.
        var connection = builder.AddConnectionString(
            ResourceNames.Artifacts,
            ReferenceExpression.Create(
                $"DefaultEndpointsProtocol=http;AccountName={LocalSecrets.AzuriteAccount};AccountKey={LocalSecrets.AzuriteKey};BlobEndpoint=http://127.0.0.1:{endpoint.Property(EndpointProperty.Port)}/{LocalSecrets.AzuriteAccount};"));
        AddProbe(builder, server, ct => Probes.AzuriteAsync(endpoint, ct));
        return new Dependency(connection, server);
    }

    private static IResourceBuilder<ExecutableResource> Launcher(
        IDistributedApplicationBuilder builder, InfrastructureOptions options, string name, string script, string endpointName) =>
        builder.AddExecutable(name, "bash", options.ScriptsDirectory, Path.Combine(options.ScriptsDirectory, script))
            .WithEndpoint(name: endpointName, scheme: "tcp");

    private static void AddProbe(IDistributedApplicationBuilder builder, IResourceBuilder<ExecutableResource> server, Func<CancellationToken, Task> probe)
    {
        var key = server.Resource.Name + "-answers";
        builder.Services.AddHealthChecks().Add(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckRegistration(
            key, _ => new ProbeHealthCheck(probe), failureStatus: null, tags: null, timeout: TimeSpan.FromSeconds(5)));
        server.WithHealthCheck(key);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
