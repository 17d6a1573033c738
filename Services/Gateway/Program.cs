using Flywheel.Gateway;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseRequestTimeouts();
app.UseGatewayAdmission();
app.MapDefaultEndpoints();
app.MapGatewayProxy();

app.Run();
