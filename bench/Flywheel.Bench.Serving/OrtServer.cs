using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Bench.Serving;

/// <summary>
/// The least a server can do with the model: the registered ONNX artifact in one ONNX Runtime
/// session (the workers' session settings) behind a minimal API on the same Kestrel, reading the
/// instances and answering label and score, with nothing else — no validation, log, metrics or
/// traces. The worker's latency above this one is its serving overhead outside the model.
/// </summary>
public static class OrtServer
{
    public static async Task RunAsync(string onnxPath, int port)
    {
        using var session = Floor.CreateSession(await File.ReadAllBytesAsync(onnxPath));
        var app = MlNetServer.CreateApp(port);
        app.MapPost("/predict", async (HttpRequest request) =>
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            var predictions = new List<object>();
            foreach (var instance in body.RootElement.GetProperty("instances").EnumerateArray())
            {
                var (label, score) = Floor.Score(session,
                    (float)instance.GetProperty("amount").GetDouble(),
                    instance.GetProperty("merchant_category").GetString()!,
                    instance.GetProperty("is_online").GetBoolean(),
                    instance.GetProperty("hour").ValueKind == JsonValueKind.Number ? (float)instance.GetProperty("hour").GetDouble() : float.NaN);
                predictions.Add(new { label, score });
            }

            return Results.Json(new { predictions });
        });
        await app.RunAsync();
    }
}
