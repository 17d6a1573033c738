using Flywheel.Contracts;

namespace Flywheel.AppHost.Infrastructure;

internal static class InfrastructureExtensions
{
    /// <summary>
    /// PostgreSQL, Redis, RabbitMQ and Blob storage, chosen by how the AppHost runs:
    /// publishing → connection strings the deployment fills; a healthy container runtime →
    /// containers; otherwise (this machine, CI) → local executables.
    /// </summary>
    public static FlywheelInfrastructure AddFlywheelInfrastructure(this IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return new FlywheelInfrastructure(
                External(builder, ResourceNames.Database),
                External(builder, ResourceNames.OnlineStore),
                External(builder, ResourceNames.MessageBus),
                External(builder, ResourceNames.Artifacts));
        }

        var options = InfrastructureOptions.From(builder);
        return options.UseContainers
            ? ContainerInfrastructure.Add(builder)
            : LocalInfrastructure.Add(builder, options);
    }

    /// <summary>
    /// The bootstrap admin API key: created once per data folder for local runs (and copied to
    /// <c>.flywheel/admin.key</c> by <c>./flywheel up</c>), a secret parameter when publishing.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddAdminKey(this IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return builder.AddParameter(ResourceNames.AdminKey, secret: true);
        }

        var keyFile = LocalSecrets.PasswordFile(InfrastructureOptions.DataDirectoryOf(builder), ResourceNames.AdminKey);
        return builder.AddParameter(ResourceNames.AdminKey, LocalSecrets.Read(keyFile), secret: true);
    }

    private static Dependency External(IDistributedApplicationBuilder builder, string name) =>
        new(builder.AddConnectionString(name), Server: null);
}
