using Flywheel.AppHost.Infrastructure;
using Flywheel.Contracts.Serving;

namespace Flywheel.AppHost;

internal static class ServiceExtensions
{
    /// <summary>
    /// A Flywheel HTTP service: one http endpoint (fixed port only where asked, so parallel runs
    /// never collide), health from its own <c>/health</c>, started only once the schema migrator
    /// has finished successfully. The endpoint is not proxied: each service runs one replica
    /// locally, and the orchestrator's TCP proxy in front of it cost a third of a core at a few
    /// thousand predictions a second.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddService<TProject>(
        this IDistributedApplicationBuilder builder, string name, IResourceBuilder<ProjectResource> migrator, int? port = null)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, launchProfileName: null)
            .WithHttpEndpoint(port: port, isProxied: false)
            .WithHttpHealthCheck(Flywheel.Contracts.HealthEndpoints.Health)
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
            .WithEnvironment("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true")
            .WaitForCompletion(migrator);

    /// <summary>
    /// The services listen on a Unix socket as well as on their TCP port, and the gateway connects
    /// to them through it (ServiceDefaults' <c>LocalSockets</c>, named as <see cref="LocalSocketPaths"/>
    /// says). The folder is the run's data folder's <c>sockets</c>, readable by
    /// this user only, or one under the temp folder when that path would not fit in a socket address.
    /// </summary>
    public static IResourceBuilder<ProjectResource> ForwardsThroughLocalSockets(
        this IResourceBuilder<ProjectResource> gateway, IDistributedApplicationBuilder builder, params IResourceBuilder<ProjectResource>[] services)
    {
        var folder = SocketFolder(InfrastructureOptions.DataDirectoryOf(builder));
        LocalSocketPaths.CreateFolder(folder);
        foreach (var service in services)
        {
            // LocalSocketPaths.PathFor, with the port the service gets when it starts.
            var port = service.GetEndpoint("http").Property(EndpointProperty.Port);
            service.WithEnvironment("Flywheel__LocalSocket", ReferenceExpression.Create($"{folder}/{port}{LocalSocketPaths.Extension}"));
        }

        return gateway.WithEnvironment("Flywheel__Gateway__LocalSocketDirectory", folder);
    }

    /// <summary>The data folder's <c>sockets</c>, unless a socket path in it could exceed what a socket address holds.</summary>
    internal static string SocketFolder(string dataDirectory)
    {
        var folder = Path.Combine(dataDirectory, "sockets");
        if (LocalSocketPaths.Fits(LocalSocketPaths.PathFor(folder, ushort.MaxValue)))
        {
            return folder;
        }

        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(dataDirectory)))[..16];
        return Path.Combine(Path.GetTempPath(), $"flywheel-{Environment.UserName}-{hash}");
    }

    /// <summary>Gives the service the dependency's connection string and starts it only once the dependency is healthy.</summary>
    public static IResourceBuilder<ProjectResource> Uses(this IResourceBuilder<ProjectResource> service, Dependency dependency)
    {
        service.WithReference(dependency.Connection);
        if (dependency.Server is { } server)
        {
            service.WaitFor(server);
        }

        return service;
    }
}
