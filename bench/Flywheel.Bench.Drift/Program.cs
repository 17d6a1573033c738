using System.Diagnostics;
using System.Globalization;
using Flywheel.Core.Drift;
using Flywheel.Core.Profiles;
using Flywheel.Core.Schema;

// Drift computation alone: a window of N rows × (numeric + categorical) features added to a
// DriftWindow and evaluated against a stored reference profile, in one process, no I/O. Reading
// the window from the prediction log is the monitor's cost and is not measured here.
//   dotnet run --project bench/Flywheel.Bench.Drift -c Release -- [rows=1000000] [numeric=35] [categorical=15] [reference=100000]
var rows = Arg(0, 1_000_000);
var numeric = Arg(1, 35);
var categorical = Arg(2, 15);
var referenceRows = Arg(3, 100_000);
const int Categories = 20, Pool = 20_000;

var features = Enumerable.Range(0, numeric).Select(i => new FeatureDefinition($"n{i}", FeatureType.Numeric))
    .Concat(Enumerable.Range(0, categorical).Select(i => new FeatureDefinition($"c{i}", FeatureType.Categorical)))
    .ToList();
var schema = new ModelSchema("bench", ModelTask.Binary, features, new("label", FeatureType.Boolean));

var clock = Stopwatch.StartNew();
var random = new Random(1);
var reference = ProfileBuilder.Build(
    schema,
    Enumerable.Range(0, referenceRows).Select(_ => Row(random, drifted: false)),
    [.. Enumerable.Range(0, referenceRows).Select(_ => Score(random, drifted: false))]);
var profiled = clock.Elapsed;

// The window cycles through a pool of generated rows so that generating values is not what is
// timed; the pool is drifted in every fifth feature so the report has something to find.
var pool = Enumerable.Range(0, Pool).Select(_ => Row(random, drifted: true)).ToArray();
var scores = Enumerable.Range(0, Pool).Select(_ => Score(random, drifted: true)).ToArray();

GC.Collect();
var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
// CPU time as well as wall time: on a shared machine the wall clock also counts other processes' turns.
var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
clock.Restart();
var window = new DriftWindow(schema, reference);
for (var i = 0; i < rows; i++)
{
    window.Add(pool[i % Pool], scores[i % Pool]);
}

var added = clock.Elapsed;
var cpuAdded = Process.GetCurrentProcess().TotalProcessorTime;
clock.Restart();
var report = DriftEvaluator.Evaluate(window, DriftPolicy.Default);
var evaluated = clock.Elapsed;
var cpuEvaluated = Process.GetCurrentProcess().TotalProcessorTime;
var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

using var process = Process.GetCurrentProcess();
var total = added + evaluated;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    reference: {referenceRows:N0} rows profiled in {profiled.TotalSeconds:F1} s
    window:    {rows:N0} rows × {numeric + categorical} features ({numeric} numeric, {categorical} categorical)
    add:       {added.TotalSeconds:F2} s ({rows / added.TotalSeconds:N0} rows/s), CPU {(cpuAdded - cpuBefore).TotalSeconds:F2} s
    evaluate:  {evaluated.TotalSeconds:F2} s, CPU {(cpuEvaluated - cpuAdded).TotalSeconds:F2} s
    total:     {total.TotalSeconds:F2} s ({rows / total.TotalSeconds:N0} rows/s)
    allocated: {allocated / 1048576.0:N0} MiB; peak working set {process.PeakWorkingSet64 / 1048576.0:N0} MiB
    report:    drifted {report.Drifted}, {report.Features.Count(f => f.Drifted)} of {report.Features.Count} features ({report.DriftedShare:P0}), prediction {report.Prediction?.Test} {report.Prediction?.Statistic:F3} drifted {report.Prediction?.Drifted}
    tests:     {string.Join(", ", report.Features.GroupBy(f => f.Test).Select(g => $"{g.Key} × {g.Count()}"))}
    """));

int Arg(int index, int fallback) => args.Length > index ? int.Parse(args[index], CultureInfo.InvariantCulture) : fallback;

// Numeric features: normal with per-feature mean and scale; categorical: 20 values, Zipf-like.
// A drifted feature (every fifth) moves its mean by half a standard deviation or shifts weight to
// its rarer categories.
Dictionary<string, object?> Row(Random random, bool drifted)
{
    var row = new Dictionary<string, object?>(numeric + categorical, StringComparer.Ordinal);
    for (var i = 0; i < numeric; i++)
    {
        var shift = drifted && i % 5 == 0 ? 0.5 : 0;
        row[$"n{i}"] = ((Gaussian(random) + shift) * (i + 1)) + (10 * i);
    }

    for (var i = 0; i < categorical; i++)
    {
        var skew = drifted && i % 5 == 0 ? 0.5 : 1.2;
        row[$"c{i}"] = $"v{Zipf(random, skew)}";
    }

    return row;
}

static double Score(Random random, bool drifted) => Math.Clamp(0.3 + (0.1 * Gaussian(random)) + (drifted ? 0.02 : 0), 0, 1);

static double Gaussian(Random random) =>
    Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

static int Zipf(Random random, double exponent)
{
    var weights = Enumerable.Range(1, Categories).Select(k => 1 / Math.Pow(k, exponent)).ToArray();
    var u = random.NextDouble() * weights.Sum();
    for (var k = 0; k < weights.Length; k++)
    {
        u -= weights[k];
        if (u < 0)
        {
            return k;
        }
    }

    return Categories - 1;
}
