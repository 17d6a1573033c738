using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;

// Training time: ML.NET alone vs a Flywheel training run on the same rows, against a running
// platform (./flywheel up). The platform's overhead is everything around the fit: snapshot,
// reading rows, split, evaluation, ONNX export and parity, profile, upload, registration.
//   dotnet run --project bench/Flywheel.Bench.Training -c Release -- [rows=200000] [features=20]
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
var features = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
const int Seed = 42;
// The platform's LightGBM defaults (Flywheel.Training.Hyperparameters), single-threaded as it trains.
const int Iterations = 100, Leaves = 31, MinimumInLeaf = 20;
const double LearningRate = 0.1;

var data = Generate(rows, features, Seed);

// 1. ML.NET alone: the same rows already in memory, 80 % of them (the platform holds out the latest fifth).
var trainRows = data.Take(rows * 4 / 5).ToList();
var ml = new MLContext(Seed);
var schema = SchemaDefinition.Create(typeof(Row));
schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features);
var view = ml.Data.LoadFromEnumerable(trainRows, schema);
var trainer = ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
{
    NumberOfIterations = Iterations,
    NumberOfLeaves = Leaves,
    MinimumExampleCountPerLeaf = MinimumInLeaf,
    LearningRate = LearningRate,
    NumberOfThreads = 1,
    Seed = Seed,
    Deterministic = true,
});
var clock = Stopwatch.StartNew();
var fitted = trainer.Fit(view);
var alone = clock.Elapsed;
GC.KeepAlive(fitted);

// 2. The platform: upload (not timed here; see the ingestion bench), then a training run from request to registered version.
var state = Path.Combine(FindRoot(), ".flywheel");
var gateway = File.ReadAllText(Path.Combine(state, "gateway.url")).Trim();
var key = File.ReadAllText(Path.Combine(state, "admin.key")).Trim();
using var http = new HttpClient { BaseAddress = new Uri(gateway), Timeout = TimeSpan.FromMinutes(30) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
var model = "train-bench-" + Guid.NewGuid().ToString("N")[..8];
await Expect(HttpStatusCode.Created, await http.PostAsJsonAsync("/api/models", new
{
    name = model,
    task = "binary",
    features = Enumerable.Range(0, features).Select(i => new { name = $"f{i}", type = "numeric" }).ToArray(),
    target = new { name = "label", type = "boolean" },
}));
await Expect(HttpStatusCode.OK, await http.PostAsync($"/api/models/{model}/data", new StringContent(Csv(data, features), Encoding.UTF8, "text/csv")));

clock.Restart();
using var started = await http.PostAsJsonAsync($"/api/models/{model}/training-runs", new
{
    trainer = "lightgbm",
    hyperparameters = new Dictionary<string, double>
    {
        ["num_iterations"] = Iterations, ["num_leaves"] = Leaves, ["min_data_in_leaf"] = MinimumInLeaf, ["learning_rate"] = LearningRate,
    },
    seed = Seed,
});
await Expect(HttpStatusCode.Accepted, started);
var runId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("run_id").GetString();
JsonElement run;
do
{
    await Task.Delay(200);
    run = await http.GetFromJsonAsync<JsonElement>($"/api/training-runs/{runId}");
}
while (run.GetProperty("state").GetString() is "queued" or "running");
var platform = clock.Elapsed;
if (run.GetProperty("state").GetString() != "succeeded")
{
    throw new InvalidOperationException($"The run failed: {run}");
}

var steps = run.GetProperty("steps").EnumerateArray().ToDictionary(
    s => s.GetProperty("name").GetString()!,
    s => Math.Round((s.GetProperty("finished_at").GetDateTimeOffset() - s.GetProperty("started_at").GetDateTimeOffset()).TotalSeconds, 2));
Console.WriteLine(JsonSerializer.Serialize(new
{
    rows,
    features,
    training_rows = trainRows.Count,
    mlnet_alone_fit_seconds = Math.Round(alone.TotalSeconds, 2),
    platform_request_to_version_seconds = Math.Round(platform.TotalSeconds, 2),
    platform_train_step_seconds = steps.GetValueOrDefault("train"),
    overhead_seconds = Math.Round(platform.TotalSeconds - alone.TotalSeconds, 2),
    steps,
    machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
}, new JsonSerializerOptions { WriteIndented = true }));

static List<Row> Generate(int count, int features, int seed)
{
    var random = new Random(seed);
    var weights = Enumerable.Range(0, features).Select(_ => random.NextDouble() * 2 - 1).ToArray();
    var rows = new List<Row>(count);
    for (var i = 0; i < count; i++)
    {
        var values = new float[features];
        var logit = -0.5;
        for (var f = 0; f < features; f++)
        {
            values[f] = (float)Math.Round(random.NextDouble() * 10 - 5, 3);
            logit += weights[f] * values[f] * (f % 3 == 0 ? values[f] / 5 : 0.5);
        }

        rows.Add(new Row { Features = values, Label = random.NextDouble() < 1 / (1 + Math.Exp(-logit)) });
    }

    return rows;
}

static string Csv(List<Row> rows, int features)
{
    var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    var csv = new StringBuilder("event_id,event_time," + string.Join(',', Enumerable.Range(0, features).Select(f => $"f{f}")) + ",label\n");
    for (var i = 0; i < rows.Count; i++)
    {
        csv.Append(CultureInfo.InvariantCulture, $"e{i},{start.AddSeconds(i):O},");
        csv.AppendJoin(',', rows[i].Features.Select(v => v.ToString(CultureInfo.InvariantCulture)));
        csv.Append(rows[i].Label ? ",1\n" : ",0\n");
    }

    return csv.ToString();
}

static async Task Expect(HttpStatusCode expected, HttpResponseMessage response)
{
    if (response.StatusCode != expected)
    {
        throw new InvalidOperationException($"{response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}

static string FindRoot()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "Flywheel.slnx")))
        {
            return directory.FullName;
        }
    }

    throw new InvalidOperationException("Run from inside the Flywheel repository.");
}

internal sealed class Row
{
    public float[] Features { get; set; } = [];

    public bool Label { get; set; }
}
