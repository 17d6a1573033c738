using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Flywheel.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

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
        var server = LocalServer.Add(builder, options, ResourceNames.Postgres, "postgres.sh", "tcp");
        var passwordFile = LocalSecrets.PasswordFile(server.Data, "postgres");
        var password = LocalSecrets.Read(passwordFile);
        server.Resource.WithArgs(passwordFile);
        return server.Expose(
            ResourceNames.Database,
            ReferenceExpression.Create(
                $"Host={server.Endpoint.Property(EndpointProperty.Host)};Port={server.Endpoint.Property(EndpointProperty.Port)};Username=postgres;Password={password};Database=flywheel"),
            ct => Probes.PostgresAsync(server.Endpoint, password, ct));
    }

    private static Dependency AddRedis(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var server = LocalServer.Add(builder, options, ResourceNames.Redis, "redis.sh", "tcp");
        var passwordFile = LocalSecrets.PasswordFile(server.Data, "redis");
        var password = LocalSecrets.Read(passwordFile);
        server.Resource.WithArgs(passwordFile);
        return server.Expose(
            ResourceNames.OnlineStore,
            ReferenceExpression.Create(
                $"{server.Endpoint.Property(EndpointProperty.Host)}:{server.Endpoint.Property(EndpointProperty.Port)},password={password},abortConnect=false"),
            ct => Probes.RedisAsync(server.Endpoint, password, ct));
    }

    private static Dependency AddRabbitMq(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var server = LocalServer.Add(builder, options, ResourceNames.RabbitMq, "rabbitmq.sh", "amqp");
        var passwordFile = LocalSecrets.PasswordFile(server.Data, "rabbitmq");
        var password = LocalSecrets.Read(passwordFile);
        // Erlang distribution and its port mapper need ports of their own; any free ones do, chosen at each start.
        server.Resource.WithArgs(context =>
        {
            context.Args.Add(FreePort());
            context.Args.Add(FreePort());
            context.Args.Add(passwordFile);
        });
        return server.Expose(
            ResourceNames.MessageBus,
            ReferenceExpression.Create(
                $"amqp://flywheel:{password}@{server.Endpoint.Property(EndpointProperty.Host)}:{server.Endpoint.Property(EndpointProperty.Port)}/"),
            ct => Probes.AmqpAsync(server.Endpoint, ct));
    }

    private static Dependency AddAzurite(IDistributedApplicationBuilder builder, InfrastructureOptions options)
    {
        var server = LocalServer.Add(builder, options, ResourceNames.Azurite, "azurite.sh", "blob");
        server.Resource.WithArgs(options.ToolsDirectory);
        // 127.0.0.1, not localhost: Azurite rejects uploads addressed to localhost on a non-default port.
        return server.Expose(
            ResourceNames.Artifacts,
            ReferenceExpression.Create(
                $"DefaultEndpointsProtocol=http;AccountName={LocalSecrets.AzuriteAccount};AccountKey={LocalSecrets.AzuriteKey};BlobEndpoint=http://127.0.0.1:{server.Endpoint.Property(EndpointProperty.Port)}/{LocalSecrets.AzuriteAccount};"),
            ct => Probes.AzuriteAsync(server.Endpoint, ct));
    }

    private static string FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// One launcher-run server: <c>bash local/SCRIPT DATA_DIR PORT …</c>, where PORT is the port
    /// Aspire allocated behind its proxy, and further arguments are added by the caller.
    /// </summary>
    private sealed record LocalServer(IDistributedApplicationBuilder Builder, IResourceBuilder<ExecutableResource> Resource, EndpointReference Endpoint, string Data)
    {
        public static LocalServer Add(IDistributedApplicationBuilder builder, InfrastructureOptions options, string name, string script, string endpointName)
        {
            var data = Path.Combine(options.DataDirectory, name);
            var resource = builder.AddExecutable(name, "bash", options.ScriptsDirectory, Path.Combine(options.ScriptsDirectory, script))
                .WithEndpoint(name: endpointName, scheme: "tcp");
            var endpoint = resource.GetEndpoint(endpointName);
            resource.WithArgs(context =>
            {
                context.Args.Add(data);
                context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
            });
            return new LocalServer(builder, resource, endpoint, data);
        }

        /// <summary>The connection string services get, and a health check that must pass before they start.</summary>
        public Dependency Expose(string connectionName, ReferenceExpression connectionString, Func<CancellationToken, Task> probe)
        {
            var key = Resource.Resource.Name + "-answers";
            Builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                key, _ => new ProbeHealthCheck(probe), failureStatus: null, tags: null, timeout: TimeSpan.FromSeconds(5)));
            Resource.WithHealthCheck(key);
            return new Dependency(Builder.AddConnectionString(connectionName, connectionString), Resource);
        }
    }
}
