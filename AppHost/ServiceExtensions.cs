using Flywheel.AppHost.Infrastructure;

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
