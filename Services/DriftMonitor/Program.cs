using Flywheel.Contracts;

// Compares live windows with each serving version's reference profile and publishes drift events.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddNpgsqlDataSource(ResourceNames.Database);
builder.AddMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
