using Flywheel.Inference;
using Flywheel.Inference.Feedback;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
// Locally, the gateway reaches this worker through a Unix socket as well as TCP (LocalSockets).
builder.ListenOnLocalSocket();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapDefaultEndpoints();
app.MapOpenInferenceProtocolApi();
app.MapKServeV1Api();
app.MapFeedbackApi();

app.Run();
