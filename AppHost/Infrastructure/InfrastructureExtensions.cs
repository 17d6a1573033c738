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

    /// <summary>
    /// The key the inference workers pseudonymise PII features under before they are logged
    /// (HMAC-SHA256): created once per data folder for local runs, a secret parameter when publishing
    /// (a Key Vault secret on Azure). It must stay the same for pseudonyms to keep joining.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddPiiKey(this IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return builder.AddParameter(ResourceNames.PiiKey, secret: true);
        }

        var keyFile = LocalSecrets.PasswordFile(InfrastructureOptions.DataDirectoryOf(builder), ResourceNames.PiiKey);
        return builder.AddParameter(ResourceNames.PiiKey, LocalSecrets.Read(keyFile), secret: true);
    }

    /// <summary>
    /// The console's service key (role <c>console</c>, installed by the registry at start) and the
    /// password of the console's local development account <c>admin</c>: both created once per data
    /// folder for local runs (<c>./flywheel up</c> prints where the password is). When publishing, the
    /// key is a secret parameter the deployment fills (a Key Vault secret on Azure) and there is no
    /// password: a deployment signs people in with OpenID Connect or accounts it configures itself
    /// (docs/deploy-azure.md), never with a generated password.
    /// </summary>
    public static (IResourceBuilder<ParameterResource> Key, IResourceBuilder<ParameterResource>? AdminPassword) AddConsoleSecrets(
        this IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return (builder.AddParameter(ResourceNames.ConsoleKey, secret: true), null);
        }

        var directory = InfrastructureOptions.DataDirectoryOf(builder);
        return (
            builder.AddParameter(ResourceNames.ConsoleKey, LocalSecrets.Read(LocalSecrets.PasswordFile(directory, ResourceNames.ConsoleKey)), secret: true),
            builder.AddParameter(ResourceNames.ConsoleAdminPassword,
                LocalSecrets.Read(LocalSecrets.PasswordFile(directory, ResourceNames.ConsoleAdminPassword)), secret: true));
    }

    private static Dependency External(IDistributedApplicationBuilder builder, string name) =>
        new(builder.AddConnectionString(name), Server: null);
}
