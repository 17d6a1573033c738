using Flywheel.Contracts;
using Flywheel.Migrator;

// Brings the database schema and the Blob containers to what this build expects, then exits.
// Every service waits for it to finish successfully before it starts.
var builder = Host.CreateApplicationBuilder(args);

builder.AddServiceDefaults();
builder.AddDatabase();
builder.AddBlobStorage();
builder.Services.AddSingleton<DatabaseMigrator>();
builder.Services.AddSingleton<PrincipalGrants>();
builder.Services.AddSingleton<BlobProvisioner>();

using var host = builder.Build();
return await MigrationCommand.RunAsync(host.Services);
