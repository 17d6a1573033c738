using Flywheel.Trainer;

// Executes training, tuning and export steps as competing consumers; scales by replicas.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
