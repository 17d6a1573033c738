using Flywheel.Inference;
using Flywheel.Inference.Feedback;
using Flywheel.Inference.Serving;

var builder = WebApplication.CreateBuilder(args);

// First, before anything opens a socket: the event threads that run the requests are made with the first one.
var inlineConnections = InlineConnections.Use(
    builder.WebHost, builder.Configuration.GetValue($"{InferenceOptions.Section}:{nameof(InferenceOptions.InlineConnections)}", true));

builder.AddServiceDefaults();
// Locally, the gateway reaches this worker through a Unix socket as well as TCP (LocalSockets).
builder.ListenOnLocalSocket();
builder.AddApplicationServices();

var app = builder.Build();
if (inlineConnections)
{
    app.Logger.LogInformation("Client connections are handled on the socket event threads ({EventThreads})",
        Environment.GetEnvironmentVariable(InlineConnections.EventThreadsVariable));
}
else
{
    app.Logger.LogInformation("Client connections are handled on the thread pool (inline connections are {Reason})",
        InlineConnections.Supported ? "turned off" : "not supported by this runtime");
}

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseMiddleware<CallerCheck>();
app.MapDefaultEndpoints();
app.MapOpenInferenceProtocolApi();
app.MapKServeV1Api();
app.MapFeedbackApi();

app.Run();
