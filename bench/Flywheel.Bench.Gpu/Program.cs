using System.Diagnostics;
using System.Text.Json;
using Flywheel.Core.Schema;
using Flywheel.Inference;
using Flywheel.Inference.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

// Checks, on a machine with a GPU, the provider choice the inference workers make: each model is
// loaded through the workers' own SessionFactory, once with CUDA allowed and once on the CPU, and
// the two must give the same answers. The fraud models come from
// `Flywheel.Bench.Serving --export-models <dir>` (trained and exported as the trainer service
// does); mlp.onnx from make_mlp.py (standard operators only, so it can run wholly on CUDA).
//   Flywheel.Bench.Gpu <models-dir> <report.json>
var directory = args[0];
var reportPath = args[1];
var json = new JsonSerializerOptions(JsonSerializerDefaults.Web)
{
    PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    WriteIndented = true,
};

using var loggers = LoggerFactory.Create(logging => logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
var allowCuda = new SessionFactory(Options.Create(new InferenceOptions { UseCuda = true }), loggers.CreateLogger<SessionFactory>());
var cpuOnly = new SessionFactory(Options.Create(new InferenceOptions { UseCuda = false }), loggers.CreateLogger<SessionFactory>());

var schema = JsonSerializer.Deserialize<ModelSchema>(File.ReadAllText(Path.Combine(directory, "schema.json")), json)!;
var rows = JsonSerializer.Deserialize<List<Dictionary<string, JsonElement>>>(File.ReadAllText(Path.Combine(directory, "rows.json")), json)!
    .Select(row => (IReadOnlyDictionary<string, object?>)row.ToDictionary(c => c.Key, c => Typed(c.Value)))
    .ToList();

var report = new List<object>();
foreach (var file in new[] { "lightgbm", "fasttree", "sdca" })
{
    var path = Path.Combine(directory, file + ".onnx");
    var gpu = allowCuda.Load(file, 1, "bench", schema, path);
    var cpu = cpuOnly.Load(file, 1, "bench", schema, path);
    var fromGpu = gpu.Score(rows);
    var fromCpu = cpu.Score(rows);
    var diff = fromGpu.Zip(fromCpu).Max(p => Math.Abs((p.First.Probability ?? 0) - (p.Second.Probability ?? 0)));
    report.Add(new
    {
        model = file,
        provider = gpu.Provider,
        rows = rows.Count,
        max_abs_diff_vs_cpu = diff,
        us_per_call_batch_1 = Time(() => gpu.Score(rows[..1]), 2000),
        us_per_call_batch_256 = Time(() => gpu.Score(rows[..256]), 200),
    });
    gpu.Retire();
    cpu.Retire();
}

var mlp = Path.Combine(directory, "mlp.onnx");
if (File.Exists(mlp))
{
    var (gpuSession, gpuOptions, provider) = allowCuda.Create(mlp, "mlp");
    var (cpuSession, cpuOptions, _) = cpuOnly.Create(mlp, "mlp");
    var random = new Random(11);
    foreach (var batch in new[] { 1, 4096, 65536 })
    {
        var x = new float[batch * 64];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1);
        }

        float[] Run(InferenceSession session)
        {
            using var input = OrtValue.CreateTensorValueFromMemory(x, [batch, 64]);
            using var runOptions = new RunOptions();
            using var output = session.Run(runOptions, ["x"], [input], ["y"]);
            return output[0].GetTensorDataAsSpan<float>().ToArray();
        }

        var onGpu = Run(gpuSession);
        var onCpu = Run(cpuSession);
        var repeats = batch == 1 ? 2000 : batch == 4096 ? 200 : 20;
        report.Add(new
        {
            model = "mlp 64-512-512-1",
            provider,
            rows = batch,
            max_abs_diff_vs_cpu = onGpu.Zip(onCpu).Max(p => Math.Abs(p.First - p.Second)),
            us_per_call = Time(() => Run(gpuSession), repeats),
            cpu_us_per_call = Time(() => Run(cpuSession), repeats),
        });
    }

    gpuSession.Dispose();
    gpuOptions.Dispose();
    cpuSession.Dispose();
    cpuOptions.Dispose();
}

var text = JsonSerializer.Serialize(report, json);
File.WriteAllText(reportPath, text);
Console.WriteLine(text);

static double Time(Action action, int repeats)
{
    for (var i = 0; i < Math.Min(50, repeats); i++)
    {
        action();
    }

    var clock = Stopwatch.StartNew();
    for (var i = 0; i < repeats; i++)
    {
        action();
    }

    return Math.Round(clock.Elapsed.TotalMicroseconds / repeats, 1);
}

static object? Typed(JsonElement value) => value.ValueKind switch
{
    JsonValueKind.Number => value.GetDouble(),
    JsonValueKind.String => value.GetString(),
    JsonValueKind.True => true,
    JsonValueKind.False => false,
    _ => null,
};
