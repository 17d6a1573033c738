using Flywheel.Contracts;

// Compares live windows with each serving version's reference profile and publishes drift events.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddDatabase();
builder.AddMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
