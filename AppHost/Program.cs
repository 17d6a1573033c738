using Flywheel.AppHost;
using Flywheel.AppHost.Infrastructure;
using Flywheel.Contracts;
using Microsoft.Extensions.Configuration;

var builder = DistributedApplication.CreateBuilder(args);

var infra = builder.AddFlywheelInfrastructure();

var migrator = builder.AddProject<Projects.Flywheel_Migrator>(ResourceNames.Migrator)
    .Uses(infra.Database)
    .Uses(infra.Artifacts);

var registry = builder.AddService<Projects.Flywheel_Registry>(ResourceNames.Registry, migrator)
    .Uses(infra.Database).Uses(infra.OnlineStore).Uses(infra.MessageBus).Uses(infra.Artifacts)
    .WithEnvironment("Flywheel__AdminKey", builder.AddAdminKey());

var inference = builder.AddService<Projects.Flywheel_Inference>(ResourceNames.Inference, migrator)
    .Uses(infra.Database).Uses(infra.OnlineStore).Uses(infra.MessageBus).Uses(infra.Artifacts)
    .WithEnvironment("Flywheel__PiiKey", builder.AddPiiKey());
if (builder.ExecutionContext.IsRunMode)
{
    // Verified artifacts cached with this run's data, so parallel platforms and test runs never share them.
    inference.WithEnvironment("Flywheel__Inference__CacheDirectory",
        Path.Combine(InfrastructureOptions.DataDirectoryOf(builder), ResourceNames.Inference, "model-cache"));
}

builder.AddService<Projects.Flywheel_Orchestrator>(ResourceNames.Orchestrator, migrator)
    .Uses(infra.Database).Uses(infra.MessageBus);

builder.AddService<Projects.Flywheel_Trainer>(ResourceNames.Trainer, migrator)
    .Uses(infra.Database).Uses(infra.MessageBus).Uses(infra.Artifacts);

var driftMonitor = builder.AddService<Projects.Flywheel_DriftMonitor>(ResourceNames.DriftMonitor, migrator)
    .Uses(infra.Database).Uses(infra.MessageBus);

var console = builder.AddService<Projects.Flywheel_Console>(ResourceNames.Console, migrator)
    .WithReference(registry).WaitFor(registry)
    .WithReference(driftMonitor).WaitFor(driftMonitor);
// The console keeps its Data Protection keys (which protect the sign-in cookie) in Blob storage,
// so every replica of a deployed console reads the same ones; locally it does the same with Azurite.
console.Uses(infra.Artifacts);
// The registry installs the console's key; the console acts with it for whoever signs in
// (docs/console.md, "Signing in"). Locally it also offers the development account admin.
var (consoleKey, consoleAdminPassword) = builder.AddConsoleSecrets();
registry.WithEnvironment("Flywheel__ConsoleKey", consoleKey);
console.WithEnvironment("Flywheel__Console__ServiceKey", consoleKey);
if (consoleAdminPassword is not null)
{
    console.WithEnvironment("Flywheel__Console__Accounts__0__Name", "admin")
        .WithEnvironment("Flywheel__Console__Accounts__0__Roles__0", Roles.Admin)
        .WithEnvironment("Flywheel__Console__Accounts__0__Password", consoleAdminPassword);
}

var gateway = builder.AddService<Projects.Flywheel_Gateway>(ResourceNames.Gateway, migrator, builder.Configuration.GetValue<int?>("Flywheel:GatewayPort"))
    .Uses(infra.Database).Uses(infra.OnlineStore)
    .WithReference(registry).WaitFor(registry)
    .WithReference(inference).WaitFor(inference)
    .WithReference(driftMonitor).WaitFor(driftMonitor)
    .WithReference(console).WaitFor(console)
    .WithExternalHttpEndpoints();

if (builder.ExecutionContext.IsRunMode)
{
    // Everything runs on this host: the gateway forwards predictions to the worker through a Unix
    // socket rather than loopback TCP (docs/architecture.md, "Same-host socket").
    gateway.ForwardsThroughLocalSockets(builder, inference);
}

builder.Build().Run();
