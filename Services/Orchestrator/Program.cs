using Flywheel.Contracts;

// Runs the durable state machines: training pipelines, rollouts, retraining triggers.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddDatabase();
builder.AddMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
