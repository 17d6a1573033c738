using Flywheel.Inference;
using Flywheel.Inference.Feedback;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapDefaultEndpoints();
app.MapOpenInferenceProtocolApi();
app.MapKServeV1Api();
app.MapFeedbackApi();

app.Run();
