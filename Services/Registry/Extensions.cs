using Flywheel.Contracts;
using Flywheel.Registry.Rollouts;
using Flywheel.Registry.Security;
using Flywheel.Registry.Training;
using Flywheel.Registry.Versions;
using Microsoft.AspNetCore.Authentication;
using Scalar.AspNetCore;

namespace Flywheel.Registry;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddOnlineStore();
        builder.AddBlobStorage();
        builder.AddMessaging(bus =>
        {
            bus.AddConsumer<TrainingSnapshotConsumer>(typeof(RegistryConsumerDefinition<TrainingSnapshotConsumer>));
            bus.AddConsumer<RegisterModelVersionConsumer>(typeof(RegistryConsumerDefinition<RegisterModelVersionConsumer>));
            bus.AddConsumer<RequestTrainingRunConsumer>(typeof(RegistryConsumerDefinition<RequestTrainingRunConsumer>));
            bus.AddConsumer<ChangeTrafficConsumer>(typeof(RegistryConsumerDefinition<ChangeTrafficConsumer>));
        });
        builder.AddOutbox(DatabaseSchemas.Registry);
        builder.AddApiKeyAuthentication();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Read, policy => policy.RequireRole(Roles.Admin, Roles.Operator, Roles.Viewer))
            .AddPolicy(Policies.Operate, policy => policy.RequireRole(Roles.Admin, Roles.Operator))
            .AddPolicy(Policies.Administer, policy => policy.RequireRole(Roles.Admin));
        builder.Services.AddHostedService<AdminKeyBootstrap>();
        builder.Services.AddSingleton<Ingestion.OnlineStore>();
        builder.Services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Flywheel control plane";
            document.Info.Description = "Models, data, training runs, versions, deployments, drift reports, keys and audit.";
            // Clients reach the API through the gateway; the registry's own address means nothing
            // to them. With no servers listed, the document's own origin is the server.
            document.Servers = [];
            return Task.CompletedTask;
        }));
    }

    /// <summary>The OpenAPI document and its browsable reference, under /api so they are reachable through the gateway.</summary>
    public static void MapApiDocs(this WebApplication app)
    {
        app.MapOpenApi("/api/openapi/{documentName}.json");
        app.MapScalarApiReference("/api/docs", options => options
            .WithTitle("Flywheel API")
            .WithOpenApiRoutePattern("/api/openapi/{documentName}.json"));
    }
}
