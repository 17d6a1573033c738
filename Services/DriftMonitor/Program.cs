using Flywheel.DriftMonitor;
using Flywheel.DriftMonitor.Monitoring;
using Flywheel.DriftMonitor.Reports;

// Compares live windows with each serving version's reference profile and publishes drift events.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.UseUnknownJsonFieldCheck();
app.MapDefaultEndpoints();
app.MapDriftReportsApi();
app.MapMonitoringPolicyApi();

app.Run();
