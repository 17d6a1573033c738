using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Flywheel.Bench.Serving;

/// <summary>
/// The alternative a .NET team would pick: the ML.NET model behind a minimal API, with pooled
/// prediction engines. (<c>Microsoft.Extensions.ML</c>'s <c>PredictionEnginePool</c> is not served
/// here; it is an <c>ObjectPool&lt;PredictionEngine&gt;</c> over one loaded model, which is what this is.)
/// </summary>
public static class MlNetServer
{
    public static async Task RunAsync(string modelPath, int port)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(modelPath, out _);
        var pool = new DefaultObjectPool<PredictionEngine<FraudInput, FraudOutput>>(
            new EnginePolicy(ml, model), Environment.ProcessorCount * 4);

        var app = CreateApp(port);
        app.MapPost("/predict", async (HttpRequest request) =>
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            var predictions = new List<object>();
            var engine = pool.Get();
            try
            {
                foreach (var instance in body.RootElement.GetProperty("instances").EnumerateArray())
                {
                    var output = engine.Predict(FraudInput.From(instance));
                    predictions.Add(new { label = output.PredictedLabel, score = output.Probability });
                }
            }
            finally
            {
                pool.Return(engine);
            }

            return Results.Json(new { predictions });
        });
        await app.RunAsync();
    }

    /// <summary>
    /// A bare minimal API on 127.0.0.1:<paramref name="port"/>, no logging, answering GET / when up:
    /// the alternatives' host. <paramref name="inlineScheduling"/> runs each request on the thread
    /// that read it, as the gateway does (<c>Flywheel:Gateway:InlineScheduling</c>).
    /// </summary>
    public static WebApplication CreateApp(int port, Action<IServiceCollection>? services = null, bool inlineScheduling = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = inlineScheduling);
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapGet("/", () => "ok");
        return app;
    }

    private sealed class EnginePolicy(MLContext ml, ITransformer model) : IPooledObjectPolicy<PredictionEngine<FraudInput, FraudOutput>>
    {
        public PredictionEngine<FraudInput, FraudOutput> Create() => ml.Model.CreatePredictionEngine<FraudInput, FraudOutput>(model);

        public bool Return(PredictionEngine<FraudInput, FraudOutput> obj) => true;
    }
}

public sealed class FraudInput
{
    [ColumnName("amount")]
    public float Amount { get; set; }

    [ColumnName("merchant_category")]
    public string MerchantCategory { get; set; } = "";

    [ColumnName("is_online")]
    public float IsOnline { get; set; }

    [ColumnName("hour")]
    public float Hour { get; set; }

    public static FraudInput From(JsonElement instance) => new()
    {
        Amount = (float)instance.GetProperty("amount").GetDouble(),
        MerchantCategory = instance.GetProperty("merchant_category").GetString() ?? "",
        IsOnline = instance.GetProperty("is_online").GetBoolean() ? 1f : 0f,
        Hour = instance.TryGetProperty("hour", out var hour) && hour.ValueKind == JsonValueKind.Number ? (float)hour.GetDouble() : float.NaN,
    };
}

public sealed class FraudOutput
{
    [ColumnName("PredictedLabel")]
    public bool PredictedLabel { get; set; }

    [ColumnName("Probability")]
    public float Probability { get; set; }

    [ColumnName("Score")]
    public float Score { get; set; }
}
