using Flywheel.Orchestrator;

// Runs the durable state machines: training pipelines, rollouts, retraining triggers.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
