using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Bench.Serving;

/// <summary>
/// What scoring the model costs by itself, on one thread, with nothing else in the process: an ONNX
/// Runtime call of 1, 12 and 32 rows (inputs built per call and the three outputs fetched, as the
/// worker did before its bound calls and still does past 64 rows), a one-row call through inputs
/// and outputs bound once (as the worker's calls of up to 64 rows are), and ML.NET's prediction
/// engine on one row. Each is timed warm (called back to
/// back, so the model's code and trees stay in the core's caches) and cold (a buffer larger than
/// the core's L2 cache written before each call, as a server's other work per request does). The
/// cold figures are the ones a busy server pays.
/// <code>dotnet run --project bench/Flywheel.Bench.Serving -c Release -- --model-cost [model.onnx model.zip]</code>
/// The files default to those the last full run wrote to <c>.flywheel/bench-serving</c>.
/// </summary>
public static class ModelCost
{
    private static readonly string[] InputNames = ["amount", "merchant_category", "is_online", "hour"];
    private static readonly string[] OutputNames = ["PredictedLabel.output", "Score.output", "Probability.output"];
    private static readonly string[] Categories = ["grocery", "travel", "fuel", "online"];

    public static void Run(string onnxPath, string zipPath, int evictBytes)
    {
        // The floor's session: the workers' settings.
        using var session = Floor.CreateSession(File.ReadAllBytes(onnxPath));
        using var runOptions = new RunOptions();

        var ml = new MLContext();
        var model = ml.Model.Load(zipPath, out _);
        using var engine = ml.Model.CreatePredictionEngine<FraudInput, FraudOutput>(model);
        var instances = Enumerable.Range(0, Categories.Length)
            .Select(i => new FraudInput { Amount = 12.5f + (i * 40), MerchantCategory = Categories[i], IsOnline = i % 2, Hour = 13 })
            .ToArray();

        var evict = new byte[evictBytes];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Scoring cost on one thread, µs per call (median of the timed calls; cold: {evictBytes / 1_000_000.0:0.#} MB written before each call)."));
        Console.WriteLine("| call | warm µs | cold µs | cold µs per row |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var rows in new[] { 1, 12, 32 })
        {
            Report($"ONNX Runtime, {rows} row{(rows == 1 ? "" : "s")}", rows, i => ScoreOnnx(session, runOptions, rows, i), evict);
        }

        // The worker's way since the seventeenth session: inputs and outputs bound once, each call
        // writing its values into them (LoadedVersion's bound calls); and the run alone, values unchanged.
        using (var bound = BindOneRow(session))
        {
            Report("ONNX Runtime, 1 row, bound once, values set per call", 1, i =>
            {
                bound.Floats[0][0] = 12.5f + (i % 97);
                bound.Floats[1][0] = i % 2;
                bound.Floats[2][0] = i % 24;
                bound.Category.StringTensorSetElementAt(Categories[i % Categories.Length].AsSpan(), 0);
                session.RunWithBinding(runOptions, bound.Binding);
                _ = bound.Label[0] ^ (bound.Probability[0] > 0.5f);
            }, evict);
            Report("ONNX Runtime, 1 row, bound once, the run alone", 1, _ => session.RunWithBinding(runOptions, bound.Binding), evict);
        }

        Report("ML.NET prediction engine, 1 row", 1, i => engine.Predict(instances[i % instances.Length]), evict);
    }

    private static void Report(string name, int rows, Action<int> call, byte[] evict)
    {
        var warm = Median(call, calls: 20_000, evict: null);
        var cold = Median(call, calls: 3_000, evict);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {warm:0.0} | {cold:0.0} | {cold / rows:0.0} |"));
    }

    /// <summary>The median time of one call, after a warm-up; with <paramref name="evict"/>, the buffer is written (untimed) before each call.</summary>
    private static double Median(Action<int> call, int calls, byte[]? evict)
    {
        for (var i = 0; i < 2_000; i++)
        {
            call(i);
        }

        var times = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            if (evict is not null)
            {
                for (var b = 0; b < evict.Length; b += 64)
                {
                    evict[b]++;
                }
            }

            var started = Stopwatch.GetTimestamp();
            call(i);
            times[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }

        Array.Sort(times);
        return times[calls / 2];
    }

    private sealed class Bound(OrtIoBinding binding, OrtValue[] values) : IDisposable
    {
        public OrtIoBinding Binding { get; } = binding;

        public float[][] Floats { get; init; } = [];

        public OrtValue Category { get; init; } = null!;

        public bool[] Label { get; init; } = [];

        public float[] Probability { get; init; } = [];

        public void Dispose()
        {
            Binding.Dispose();
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private static Bound BindOneRow(InferenceSession session)
    {
        long[] shape = [1, 1];
        var category = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        category.StringTensorSetElementAt(Categories[1].AsSpan(), 0);
        float[][] floats = [[52.5f], [1f], [13f]];
        bool[] label = [false];
        float[] probability = [0];
        OrtValue[] inputs =
        [
            OrtValue.CreateTensorValueFromMemory(floats[0], shape),
            category,
            OrtValue.CreateTensorValueFromMemory(floats[1], shape),
            OrtValue.CreateTensorValueFromMemory(floats[2], shape),
        ];
        OrtValue[] outputs =
        [
            OrtValue.CreateTensorValueFromMemory(label, [1, 1]),
            OrtValue.CreateTensorValueFromMemory(new float[1], [1, 1]),
            OrtValue.CreateTensorValueFromMemory(probability, [1, 1]),
        ];
        var binding = session.CreateIoBinding();
        for (var i = 0; i < inputs.Length; i++)
        {
            binding.BindInput(InputNames[i], inputs[i]);
        }

        for (var i = 0; i < outputs.Length; i++)
        {
            binding.BindOutput(OutputNames[i], outputs[i]);
        }

        return new Bound(binding, [.. inputs, .. outputs]) { Floats = floats, Category = category, Label = label, Probability = probability };
    }

    private static void ScoreOnnx(InferenceSession session, RunOptions runOptions, int rows, int call)
    {
        long[] shape = [rows, 1];
        var amounts = new float[rows];
        var online = new float[rows];
        var hours = new float[rows];
        for (var i = 0; i < rows; i++)
        {
            amounts[i] = 12.5f + ((call + i) % 97);
            online[i] = (call + i) % 2;
            hours[i] = (call + i) % 24;
        }

        using var amount = OrtValue.CreateTensorValueFromMemory(amounts, shape);
        using var category = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        for (var i = 0; i < rows; i++)
        {
            category.StringTensorSetElementAt(Categories[(call + i) % Categories.Length].AsSpan(), i);
        }

        using var isOnline = OrtValue.CreateTensorValueFromMemory(online, shape);
        using var hour = OrtValue.CreateTensorValueFromMemory(hours, shape);
        using var outputs = session.Run(runOptions, InputNames, [amount, category, isOnline, hour], OutputNames);
    }
}
