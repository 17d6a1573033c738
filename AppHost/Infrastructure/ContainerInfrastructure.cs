using Flywheel.Contracts;

namespace Flywheel.AppHost.Infrastructure;

/// <summary>Infrastructure as containers, for machines with a healthy container runtime.</summary>
internal static class ContainerInfrastructure
{
    private const string AzuriteImage = "mcr.microsoft.com/azure-storage/azurite";
    private const string AzuriteTag = "3.35.0";

    public static FlywheelInfrastructure Add(IDistributedApplicationBuilder builder)
    {
        var postgres = builder.AddPostgres(ResourceNames.Postgres).WithDataVolume();
        var database = postgres.AddDatabase(ResourceNames.Database, databaseName: "flywheel");
        var redis = builder.AddRedis(ResourceNames.OnlineStore).WithDataVolume();
        var rabbit = builder.AddRabbitMQ(ResourceNames.MessageBus).WithDataVolume();

        var azurite = builder.AddContainer(ResourceNames.Azurite, AzuriteImage, AzuriteTag)
            .WithArgs("azurite-blob", "--blobHost", "0.0.0.0", "--skipApiVersionCheck", "--disableTelemetry", "--location", "/data")
            .WithVolume("flywheel-azurite", "/data")
            .WithEndpoint(targetPort: 10000, name: "blob", scheme: "http");
        var blobEndpoint = azurite.GetEndpoint("blob");
        var artifacts = builder.AddConnectionString(
            ResourceNames.Artifacts,
            ReferenceExpression.Create(
                $"DefaultEndpointsProtocol=http;AccountName={LocalSecrets.AzuriteAccount};AccountKey={LocalSecrets.AzuriteKey};BlobEndpoint=http://127.0.0.1:{blobEndpoint.Property(EndpointProperty.Port)}/{LocalSecrets.AzuriteAccount};"));

        return new FlywheelInfrastructure(
            new Dependency(database, database),
            new Dependency(redis, redis),
            new Dependency(rabbit, rabbit),
            new Dependency(artifacts, azurite));
    }
}
