using Flywheel.Contracts;

// Executes training, tuning and export steps as competing consumers; scales by replicas.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddDatabase();
builder.AddBlobStorage();
builder.AddMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
