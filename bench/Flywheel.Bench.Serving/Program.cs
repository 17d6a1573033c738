using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Flywheel.Bench.Serving;
using Flywheel.Contracts;
using Flywheel.Core.Schema;
using Flywheel.Core.Training;
using Flywheel.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Npgsql;

// Serving latency and throughput, in one run on this machine, for the same model served nine ways:
// in-process ONNX Runtime (the floor), bare ONNX Runtime behind a minimal API, the Flywheel
// inference worker called directly with micro-batching on and off, the worker behind a minimal TCP
// relay (the floor for any hop), behind a bare YARP proxy and behind the gateway, ML.NET pooled
// prediction engines behind a minimal API, and onnxruntime-node behind a plain Node HTTP server.
// For each server it also reports the CPU one request costs it at saturation, for the worker its
// own median time per request, and for each server the highest fixed arrival rate it sustains at a
// p99 within 5, 10 and 20 ms.
//   dotnet run --project bench/Flywheel.Bench.Serving -c Release -- [rates=300] [seconds=15] [clients=64]
// It starts its own platform (local services, like the tests) and stops everything it started.
//   dotnet run --project bench/Flywheel.Bench.Serving -c Release -- --model-cost [model.onnx model.zip]
// times the model alone on one thread instead (ModelCost), from the files the last full run wrote.
if (args is ["--serve-mlnet", var zip, var mlPort])
{
    Children.ExitWithParent();
    await MlNetServer.RunAsync(zip, int.Parse(mlPort, CultureInfo.InvariantCulture));
    return;
}

if (args is ["--serve-ort", var onnxFile, var ortPort])
{
    Children.ExitWithParent();
    await OrtServer.RunAsync(onnxFile, int.Parse(ortPort, CultureInfo.InvariantCulture));
    return;
}

if (args is ["--serve-yarp", var destination, var yarpPort])
{
    Children.ExitWithParent();
    await YarpServer.RunAsync(destination, int.Parse(yarpPort, CultureInfo.InvariantCulture));
    return;
}

if (args is ["--serve-relay", var relayDestination, var relayPort])
{
    Children.ExitWithParent();
    TcpRelay.Run(relayDestination, int.Parse(relayPort, CultureInfo.InvariantCulture));
    return;
}

if (args is ["--model-cost", ..])
{
    if (args.Length is not (1 or 3))
    {
        Console.Error.WriteLine("usage: --model-cost [model.onnx model.zip]");
        Environment.Exit(2);
    }

    var files = Path.Combine(FindRoot(), ".flywheel", "bench-serving");
    ModelCost.Run(
        args.Length == 3 ? args[1] : Path.Combine(files, "model.onnx"),
        args.Length == 3 ? args[2] : Path.Combine(files, "model.zip"),
        evictBytes: 8_000_000);
    return;
}

if (args is ["--export-models", var exportDirectory])
{
    GpuModels.Export(exportDirectory);
    return;
}

// The first rate is the one the main table reports; any others ("300,1000,2000") get the same
// interleaved rounds after it and a table of their own: what each server's latency is when the
// machine is kept busy between requests rather than idle.
var rates = args.Length > 0
    ? args[0].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => double.Parse(r, CultureInfo.InvariantCulture)).ToArray()
    : [300.0];
var rate = rates[0];
var seconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 15;
var clients = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
var root = FindRoot();
var work = Path.Combine(root, ".flywheel", "bench-serving");
Directory.CreateDirectory(work);

Console.Error.WriteLine("Starting the platform…");
var dataDirectory = Path.Combine(work, "data-" + Guid.NewGuid().ToString("N")[..8]);
var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Flywheel_AppHost>(
    [$"--Flywheel:DataDir={dataDirectory}", "--Flywheel:Infrastructure=executables"],
    (options, _) => options.DisableDashboard = true);
builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning)
    .AddFilter("Flywheel.AppHost.Resources", LogLevel.None)
    .AddFilter("Aspire", LogLevel.Warning)
    .AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None));
// FLYWHEEL_BENCH_PROFILE=1 makes every service write a perf map (and map its JIT code once), so
// `perf record -g -p <pid>` names .NET frames while a scenario runs. FLYWHEEL_BENCH_SERVICE_ENV
// ("NAME=value;NAME=value") sets variables for the platform's services only, not for this process
// (the load generator): for trying runtime settings on the servers alone; "gateway:NAME=value"
// sets one for the named service only.
// The services run as they would be deployed (Production), not as `./flywheel up` runs them for a
// developer: Development adds ASP.NET Core's developer exception page to every request's pipeline
// and checks every scoped service resolution. A run can still ask for Development through
// FLYWHEEL_BENCH_SERVICE_ENV.
var serviceEnvironment = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["ASPNETCORE_ENVIRONMENT"] = "Production",
    ["DOTNET_ENVIRONMENT"] = "Production",
};
if (Environment.GetEnvironmentVariable("FLYWHEEL_BENCH_PROFILE") == "1")
{
    serviceEnvironment["DOTNET_PerfMapEnabled"] = "1";
    serviceEnvironment["DOTNET_EnableWriteXorExecute"] = "0";
}

foreach (var setting in (Environment.GetEnvironmentVariable("FLYWHEEL_BENCH_SERVICE_ENV") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
{
    var (name, value) = (setting.Split('=', 2)[0], setting.Split('=', 2) is [_, var given] ? given : "");
    serviceEnvironment[name] = value;
}

if (serviceEnvironment.Count > 0)
{
    foreach (var project in builder.Resources.OfType<ProjectResource>())
    {
        var resource = project.Name;
        project.Annotations.Add(new EnvironmentCallbackAnnotation(environment =>
        {
            foreach (var (setting, value) in serviceEnvironment)
            {
                var scoped = setting.Split(':', 2);
                if (scoped.Length == 1)
                {
                    environment[setting] = value;
                }
                else if (scoped[0] == resource)
                {
                    environment[scoped[1]] = value;
                }
            }
        }));
    }
}

// With the dashboard off nothing listens for telemetry, yet Aspire still gives every service an
// OTLP endpoint: each would serialize its metrics and spans every second and fail to send them
// (about 20 connection errors a second in the worker). The services run without an exporter.
foreach (var project in builder.Resources.OfType<ProjectResource>())
{
    project.Annotations.Add(new EnvironmentCallbackAnnotation(environment => environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT")));
}

await using var app = await builder.BuildAsync();
await app.StartAsync();
await PlatformStart.WaitUntilHealthyAsync(app,
    [ResourceNames.Gateway, ResourceNames.Registry, ResourceNames.Inference, ResourceNames.Trainer, ResourceNames.Orchestrator],
    TimeSpan.FromMinutes(10));

var adminKey = (await File.ReadAllTextAsync(Path.Combine(dataDirectory, ResourceNames.AdminKey + ".password"))).Trim();
using var admin = app.CreateHttpClient(ResourceNames.Gateway, "http");
admin.Timeout = TimeSpan.FromMinutes(5);
admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);

var rows = FraudData.Rows(3000, seed: 7);
var batched = await TrainAndDeployAsync(admin, "bench-fraud", rows, batching: true);
var unbatched = await TrainAndDeployAsync(admin, "bench-fraud-unbatched", rows, batching: false);
var onnx = await admin.GetByteArrayAsync($"/api/models/{batched}/versions/1/artifact");

// The alternatives serve the same model: ML.NET trained on the same rows, split, trainer,
// hyperparameters and seed (its ONNX export is compared with the registered artifact's hash).
var schema = FraudData.Schema("bench-fraud");
var split = DataSplit.Split(rows, seed: 42);
using var trained = ModelTrainer.Train(schema, split.Train, new TrainingSpec(TrainerKind.LightGbm, new Dictionary<string, double>(), 42));
var sameModel = Convert.ToHexStringLower(SHA256.HashData(trained.ExportOnnx())) == Convert.ToHexStringLower(SHA256.HashData(onnx));
var zipPath = Path.Combine(work, "model.zip");
var onnxPath = Path.Combine(work, "model.onnx");
await using (var zipFile = File.Create(zipPath))
{
    trained.SaveMlNet(zipFile);
}

await File.WriteAllBytesAsync(onnxPath, onnx);

using var keyResponse = await admin.PostAsJsonAsync("/api/keys", new { name = "bench", roles = new[] { "predictor" }, requests_per_second = 1_000_000 });
keyResponse.EnsureSuccessStatusCode();
var predictorKey = (await keyResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;

var bodies = rows.Take(1000).Select(FraudData.RequestBody).ToArray();
var mlPortNumber = FreePort();
var nodePortNumber = FreePort();
var ortPortNumber = FreePort();
using var ortServer = StartProcess("dotnet", [typeof(OrtServer).Assembly.Location, "--serve-ort", onnxPath, ortPortNumber.ToString(CultureInfo.InvariantCulture)], root);
var yarpPortNumber = FreePort();
using var yarpServer = StartProcess("dotnet", [typeof(YarpServer).Assembly.Location, "--serve-yarp", app.GetEndpoint(ResourceNames.Inference, "http").ToString(), yarpPortNumber.ToString(CultureInfo.InvariantCulture)], root);
var relayPortNumber = FreePort();
using var relayServer = StartProcess("dotnet", [typeof(TcpRelay).Assembly.Location, "--serve-relay", app.GetEndpoint(ResourceNames.Inference, "http").ToString(), relayPortNumber.ToString(CultureInfo.InvariantCulture)], root);
using var mlServer = StartProcess("dotnet", [typeof(MlNetServer).Assembly.Location, "--serve-mlnet", zipPath, mlPortNumber.ToString(CultureInfo.InvariantCulture)], root);
var nodeDir = Path.Combine(root, "bench", "Flywheel.Bench.Serving", "node");
if (!Directory.Exists(Path.Combine(nodeDir, "node_modules", "onnxruntime-node")))
{
    using var install = StartProcess("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], nodeDir);
    await install.WaitForExitAsync();
}

using var nodeServer = StartProcess("node", ["server.js", onnxPath, nodePortNumber.ToString(CultureInfo.InvariantCulture)], nodeDir);

// Every scenario sends the same request, key included: the worker checks it (as the gateway
// does), the alternatives ignore it, so each server reads the same bytes.
using var direct = Client(app.GetEndpoint(ResourceNames.Inference, "http"), predictorKey);
using var gateway = Client(app.GetEndpoint(ResourceNames.Gateway, "http"), predictorKey);
using var mlnet = Client(new Uri($"http://127.0.0.1:{mlPortNumber}"), predictorKey);
using var yarp = Client(new Uri($"http://127.0.0.1:{yarpPortNumber}"), predictorKey);
using var relay = Client(new Uri($"http://127.0.0.1:{relayPortNumber}"), predictorKey);
using var bare = Client(new Uri($"http://127.0.0.1:{ortPortNumber}"), predictorKey);
using var node = Client(new Uri($"http://127.0.0.1:{nodePortNumber}"), predictorKey);
await WaitUntilAnswersAsync(mlnet, "/");
await WaitUntilAnswersAsync(bare, "/");
await WaitUntilAnswersAsync(yarp, "/");
await WaitUntilAnswersAsync(node, "/");
await WaitUntilAnswersAsync(direct, $"/v2/models/{batched}/ready");
await WaitUntilAnswersAsync(direct, $"/v2/models/{unbatched}/ready");
await WaitUntilAnswersAsync(relay, $"/v2/models/{batched}/ready");

using var session = Floor.CreateSession(onnx);
// The Flywheel scenarios name their model: the prediction log then says how large the batches
// were that their saturation requests ran in.
// Which processes serve each scenario, by command line, for the CPU each request costs them.
string[] postgres = ["postgres:", "/bin/postgres "];
string[] worker = ["/Services/Inference/bin/", .. postgres];
string[] throughGateway = ["/Services/Gateway/bin/", .. worker];
string[] throughYarp = ["--serve-yarp", .. worker];
string[] throughRelay = ["--serve-relay", .. worker];
var scenarios = new (string Name, string? Model, string[]? Servers, Func<int, Task<bool>> Call)[]
{
    ("in-process ONNX Runtime (floor)", null, null, i => Task.FromResult(Floor.Score(session, rows[i % bodies.Length]))),
    ("bare ONNX Runtime, minimal API", null, ["--serve-ort"], i => PostAsync(bare, "/predict", bodies[i % bodies.Length])),
    ("worker direct, micro-batching on", batched, worker, i => PostAsync(direct, $"/v1/models/{batched}:predict", bodies[i % bodies.Length])),
    ("worker direct, micro-batching off", unbatched, worker, i => PostAsync(direct, $"/v1/models/{unbatched}:predict", bodies[i % bodies.Length])),
    ("through a minimal TCP relay, micro-batching on", batched, throughRelay, i => PostAsync(relay, $"/v1/models/{batched}:predict", bodies[i % bodies.Length])),
    ("through a bare YARP proxy, micro-batching on", batched, throughYarp, i => PostAsync(yarp, $"/v1/models/{batched}:predict", bodies[i % bodies.Length])),
    ("through the gateway, micro-batching on", batched, throughGateway, i => PostAsync(gateway, $"/v1/models/{batched}:predict", bodies[i % bodies.Length])),
    ("ML.NET pooled engines, minimal API", null, ["--serve-mlnet"], i => PostAsync(mlnet, "/predict", bodies[i % bodies.Length])),
    ("onnxruntime-node, Node http", null, ["server.js"], i => PostAsync(node, "/", bodies[i % bodies.Length])),
};
await using var database = NpgsqlDataSource.Create((await app.GetConnectionStringAsync(ResourceNames.Database))!);

// FLYWHEEL_BENCH_ONLY=worker,gateway (say) measures only the scenarios whose name contains one of the parts.
var only = Environment.GetEnvironmentVariable("FLYWHEEL_BENCH_ONLY");
var selected = scenarios.Where(s => string.IsNullOrEmpty(only) || only.Split(',').Any(part => s.Name.Contains(part.Trim(), StringComparison.OrdinalIgnoreCase))).ToArray();

// The fixed-rate phase interleaves the scenarios: two-second stretches of each in turn, until each
// has had its seconds. What the machine does in the background (PostgreSQL's checkpoints, the
// platform's timers) then falls on every scenario alike, and the differences between them, which
// the aims are about, are not one scenario's bad minute.
var (settledAfter, settledBusy) = await Settle.UntilQuietAsync(busyFraction: 0.1, limit: TimeSpan.FromSeconds(90));
Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Warming {selected.Length} scenarios (after {settledAfter.TotalSeconds:0} s for the machine to settle; {settledBusy:P0} busy)…"));
foreach (var scenario in selected)
{
    await Load.ClosedLoopAsync(scenario.Call, 8, TimeSpan.FromSeconds(3));
}

const double StretchSeconds = 2;
var stretches = Math.Max(1, (int)Math.Round(seconds / StretchSeconds));
var (openLatencies, openErrors, openWindows) = await FixedRateAsync(rate);
var atOtherRates = new List<(double Rate, (double P50, double P99)[] Latency, int[] Errors)>();
foreach (var other in rates.Skip(1))
{
    var (latencies, errors, _) = await FixedRateAsync(other);
    atOtherRates.Add((other, [.. latencies.Select(l => Load.Percentiles(l))], errors));
}

var results = new List<Measurement>();
for (var s = 0; s < selected.Length; s++)
{
    var (name, model, servers, call) = selected[s];
    var (waited, busy) = await Settle.UntilQuietAsync(busyFraction: 0.1, limit: TimeSpan.FromSeconds(90));
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Saturating {name} (after {waited.TotalSeconds:0} s for the machine to settle; {busy:P0} busy)…"));
    var open = Load.Percentiles(openLatencies[s]);
    var saturationStarted = DateTimeOffset.UtcNow;
    var cpuBefore = servers is null ? TimeSpan.Zero : ServerCpu.Total(servers);
    var closed = await Load.ClosedLoopAsync(call, clients, TimeSpan.FromSeconds(seconds));
    double? cpuPerRequest = servers is null || closed.Requests == 0
        ? null
        : (ServerCpu.Total(servers) - cpuBefore).TotalMicroseconds / closed.Requests;
    var batches = model is null ? ((double PerPrediction, double PerCall)?)null : await MeanBatchAsync(database, model, saturationStarted);
    var ownLatency = model is null ? ((double, double)?)null : await WorkerLatencyAsync(database, model, openWindows[s]);
    results.Add(new Measurement(name, rate, open.P50, open.P99, openErrors[s], clients, closed.Rps, closed.P50, closed.P99, closed.Errors, batches?.PerPrediction, cpuPerRequest,
        ownLatency?.Item1, ownLatency?.Item2, batches?.PerCall));
}

// Throughput at equal p99: the same ladder of open-loop rates against every server, each rate
// held a few seconds, up to the first whose p99 passes the largest target. The floor is not a
// server and is left out. FLYWHEEL_BENCH_LADDER=0 skips this phase; FLYWHEEL_BENCH_P99_TARGETS
// ("5,10,20", ms) sets the targets.
var ladderTargets = (Environment.GetEnvironmentVariable("FLYWHEEL_BENCH_P99_TARGETS") ?? "5,10,20")
    .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => double.Parse(t, CultureInfo.InvariantCulture)).Order().ToArray();
var ladders = new List<(string Scenario, IReadOnlyList<Probe> Probes)>();
if (Environment.GetEnvironmentVariable("FLYWHEEL_BENCH_LADDER") != "0" && ladderTargets.Length > 0)
{
    foreach (var (name, _, servers, call) in selected.Where(s => s.Servers is not null))
    {
        var (waited, busy) = await Settle.UntilQuietAsync(busyFraction: 0.1, limit: TimeSpan.FromSeconds(90));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Rate ladder for {name} (after {waited.TotalSeconds:0} s for the machine to settle; {busy:P0} busy)…"));
        ladders.Add((name, await RateLadder.ClimbAsync(name, call, start: 500, factor: 1.25, ceiling: 120_000, hold: TimeSpan.FromSeconds(3), stopAboveP99Ms: ladderTargets[^1])));
    }
}

Children.KillAll();

Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; load generator, servers and platform share it.");
Console.WriteLine($"Model: LightGBM, 4 features (binary), {rows.Count} rows; alternatives serve the same model: {(sameModel ? "yes (identical ONNX hash)" : "same data, trainer and seed (ONNX hash differs)")}.");
Console.WriteLine($"| scenario | p50 ms @ {rate:0} req/s | p99 ms @ {rate:0} req/s | errors | throughput req/s @ {clients} clients | p50 ms | p99 ms | errors | mean batch per prediction / per call | server CPU µs/req | worker's own p50 / p99 µs @ {rate:0} req/s |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var m in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {m.Scenario} | {m.P50Ms:0.000} | {m.P99Ms:0.000} | {m.OpenErrors} | {m.SaturationRps:0} | {m.SaturationP50Ms:0.00} | {m.SaturationP99Ms:0.00} | {m.ClosedErrors} | {(m.MeanBatch is { } b && m.RowsPerCall is { } perCall ? string.Create(CultureInfo.InvariantCulture, $"{b:0.00} / {perCall:0.00}") : "—")} | {(m.ServerCpuUsPerRequest is { } c ? c.ToString("0", CultureInfo.InvariantCulture) : "—")} | {(m.WorkerP50Us is { } w50 && m.WorkerP99Us is { } w99 ? string.Create(CultureInfo.InvariantCulture, $"{w50:0} / {w99:0}") : "—")} |"));
}

if (atOtherRates.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine("Latency at each fixed rate (the same interleaved rounds, run after the first rate's): p50 / p99 ms.");
    Console.WriteLine($"| scenario | {string.Join(" | ", rates.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r:#,0} req/s")))} |");
    Console.WriteLine($"|---|{string.Concat(rates.Select(_ => "---:|"))}");
    for (var s = 0; s < selected.Length; s++)
    {
        var cells = new List<string> { string.Create(CultureInfo.InvariantCulture, $"{results[s].P50Ms:0.000} / {results[s].P99Ms:0.00}{(results[s].OpenErrors > 0 ? $" ({results[s].OpenErrors} errors)" : "")}") };
        cells.AddRange(atOtherRates.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"{r.Latency[s].P50:0.000} / {r.Latency[s].P99:0.00}{(r.Errors[s] > 0 ? $" ({r.Errors[s]} errors)" : "")}")));
        Console.WriteLine($"| {selected[s].Name} | {string.Join(" | ", cells)} |");
    }
}

if (ladders.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine("Throughput at equal p99: the highest open-loop rate (steps of 1.25×, 3 s each, a missed step held once more) with every request answered and the p99 within the target, at it and every step below; then the first step past the largest target.");
    Console.WriteLine($"| scenario | {string.Join(" | ", ladderTargets.Select(t => string.Create(CultureInfo.InvariantCulture, $"req/s at p99 ≤ {t:0.#} ms")))} | first step past {ladderTargets[^1]:0.#} ms: req/s, p99 ms, generator late p99 ms |");
    Console.WriteLine($"|---|{string.Concat(ladderTargets.Select(_ => "---:|"))}---|");
    foreach (var (name, probes) in ladders)
    {
        var within = ladderTargets.Select(t => RateLadder.HighestWithin(probes, t) is { } p ? p.Rate.ToString("#,0", CultureInfo.InvariantCulture) : "< 500");
        var last = probes[^1];
        var past = last.Errors > 0 || last.P99Ms > ladderTargets[^1]
            ? string.Create(CultureInfo.InvariantCulture, $"{last.Rate:#,0}, {last.P99Ms:0.0}{(last.Errors > 0 ? $" ({last.Errors} errors)" : "")}, {last.SendLagP99Ms:0.00}")
            : "none below the ceiling";
        Console.WriteLine($"| {name} | {string.Join(" | ", within)} | {past} |");
    }
}

foreach (var (reason, count) in FailedCalls.All)
{
    Console.WriteLine($"Failed calls: {count} × {reason}");
}

Console.WriteLine(JsonSerializer.Serialize(new
{
    results,
    otherRates = atOtherRates.Select(r => new { rate = r.Rate, scenarios = selected.Select((x, i) => new { scenario = x.Name, p50 = r.Latency[i].P50, p99 = r.Latency[i].P99, errors = r.Errors[i] }) }),
    ladders = ladders.Select(l => new { scenario = l.Scenario, probes = l.Probes }) }));
await app.StopAsync();

// Interleaved rounds at one rate: two-second stretches of each selected scenario in turn.
async Task<(List<double>[] Latencies, int[] Errors, List<(DateTimeOffset From, DateTimeOffset To)>[] Windows)> FixedRateAsync(double at)
{
    var (settledAfter, settledBusy) = await Settle.UntilQuietAsync(busyFraction: 0.1, limit: TimeSpan.FromSeconds(90));
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Fixed rate: {stretches} rounds of {StretchSeconds:0} s per scenario at {at:0} req/s (after {settledAfter.TotalSeconds:0} s to settle; {settledBusy:P0} busy)…"));
    var latencies = selected.Select(_ => new List<double>()).ToArray();
    var errors = new int[selected.Length];
    var windows = selected.Select(_ => new List<(DateTimeOffset From, DateTimeOffset To)>()).ToArray();
    for (var round = 0; round < stretches; round++)
    {
        for (var s = 0; s < selected.Length; s++)
        {
            var from = DateTimeOffset.UtcNow;
            var (samples, failed) = await Load.OpenLoopSamplesAsync(selected[s].Call, at, TimeSpan.FromSeconds(StretchSeconds), round * (int)(at * StretchSeconds));
            windows[s].Add((from, DateTimeOffset.UtcNow));
            latencies[s].AddRange(samples);
            errors[s] += failed;
        }
    }

    return (latencies, errors, windows);
}

static async Task<string> TrainAndDeployAsync(HttpClient admin, string name, IReadOnlyList<TrainingRow> rows, bool batching)
{
    using (var created = await admin.PostAsync("/api/models", new StringContent(FraudData.ModelJson(name), Encoding.UTF8, "application/json")))
    {
        created.EnsureSuccessStatusCode();
    }

    // The drift monitor evaluates each deployed model every five minutes by default: about a
    // second of both cores (its statistics and PostgreSQL's parallel scan of the window), which
    // lands on whichever scenario's step is running and fails it. Put off past the run.
    using (var policy = await admin.PutAsJsonAsync($"/api/models/{name}/monitoring/policy", new { evaluation_interval_seconds = 7 * 24 * 3600 }))
    {
        policy.EnsureSuccessStatusCode();
    }

    if (!batching)
    {
        using var serving = await admin.PutAsJsonAsync($"/api/models/{name}/serving", new { max_batch_size = 1, max_batch_wait_ms = 0 });
        serving.EnsureSuccessStatusCode();
    }
    else if (Environment.GetEnvironmentVariable("FLYWHEEL_BENCH_BATCH_WAIT_MS") is { Length: > 0 } wait)
    {
        // To compare batching ways: the model's wait instead of the default.
        using var serving = await admin.PutAsJsonAsync($"/api/models/{name}/serving", new { max_batch_wait_ms = double.Parse(wait, CultureInfo.InvariantCulture) });
        serving.EnsureSuccessStatusCode();
    }

    using (var upload = await admin.PostAsync($"/api/models/{name}/data", new StringContent(FraudData.Csv(rows), Encoding.UTF8, "text/csv")))
    {
        upload.EnsureSuccessStatusCode();
    }

    using var started = await admin.PostAsJsonAsync($"/api/models/{name}/training-runs", new { trainer = "lightgbm", seed = 42 });
    started.EnsureSuccessStatusCode();
    var runId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("run_id").GetString();
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
    while (true)
    {
        var run = await admin.GetFromJsonAsync<JsonElement>($"/api/training-runs/{runId}");
        var state = run.GetProperty("state").GetString();
        if (state == "succeeded")
        {
            break;
        }

        if (state == "failed" || DateTime.UtcNow > deadline)
        {
            throw new InvalidOperationException($"Training {name} did not succeed: {run}");
        }

        await Task.Delay(500);
    }

    using var deployed = await admin.PutAsJsonAsync($"/api/models/{name}/deployment", new { production = 1, reason = "benchmark" });
    deployed.EnsureSuccessStatusCode();
    return name;
}

// The batch size the saturation phase's predictions ran in (once the log has them), averaged two
// ways: over predictions (the size of the call each prediction was in) and over ONNX Runtime calls
// (a call of n rows logs n predictions of batch size n, so the calls are the sum of 1/n). A few
// large calls after a stall raise the first far more than the second, and the second is what sets
// a call's fixed cost per prediction.
static async Task<(double PerPrediction, double PerCall)> MeanBatchAsync(NpgsqlDataSource database, string model, DateTimeOffset since)
{
    await Task.Delay(TimeSpan.FromSeconds(2));
    await using var command = database.CreateCommand("""
        SELECT coalesce(avg(batch_size), 0)::float8, coalesce(count(*) / nullif(sum(1.0 / batch_size), 0), 0)::float8
        FROM inference.predictions WHERE model = $1 AND at >= $2 AND batch_size > 0
        """);
    command.Parameters.Add(new NpgsqlParameter { Value = model });
    command.Parameters.Add(new NpgsqlParameter { Value = since });
    await using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    return (reader.GetDouble(0), reader.GetDouble(1));
}

// The worker's own time for a request in the open-loop phase, from its handler's start to the
// answer (the prediction log's latency_us), median and p99: what the worker spends, without the
// transport and the hops around it. Where the callers' p99 is far above the worker's own, the
// tail is spent outside the handler (sockets, waiting for a thread or a core).
static async Task<(double P50, double P99)> WorkerLatencyAsync(NpgsqlDataSource database, string model, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> windows)
{
    await using var command = database.CreateCommand("""
        SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_us), 0)::float8,
               coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_us), 0)::float8
        FROM inference.predictions p
        WHERE model = $1 AND NOT shadow
          AND EXISTS (SELECT 1 FROM unnest($2::timestamptz[], $3::timestamptz[]) AS w(f, t) WHERE p.at >= w.f AND p.at < w.t)
        """);
    command.Parameters.Add(new NpgsqlParameter { Value = model });
    command.Parameters.Add(new NpgsqlParameter { Value = windows.Select(w => w.From.UtcDateTime).ToArray() });
    command.Parameters.Add(new NpgsqlParameter { Value = windows.Select(w => w.To.UtcDateTime).ToArray() });
    await using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    return (reader.GetDouble(0), reader.GetDouble(1));
}

static async Task<bool> PostAsync(HttpClient client, string path, byte[] body)
{
    using var content = new ByteArrayContent(body);
    content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
    using var response = await client.PostAsync(path, content);
    await response.Content.LoadIntoBufferAsync();
    if (!response.IsSuccessStatusCode)
    {
        var answer = await response.Content.ReadAsStringAsync();
        FailedCalls.Count($"{client.BaseAddress?.Port} {(int)response.StatusCode} {answer[..Math.Min(answer.Length, 200)]}");
    }

    return response.IsSuccessStatusCode;
}

static HttpClient Client(Uri baseAddress, string? key)
{
    var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        BaseAddress = baseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };
    if (key is not null)
    {
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    return client;
}

static async Task WaitUntilAnswersAsync(HttpClient client, string path)
{
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
    while (true)
    {
        try
        {
            using var response = await client.GetAsync(path);
            if (response.IsSuccessStatusCode)
            {
                return;
            }
        }
        catch (HttpRequestException) when (DateTime.UtcNow < deadline)
        {
        }

        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"{client.BaseAddress}{path} never answered 200.");
        }

        await Task.Delay(250);
    }
}

static Process StartProcess(string file, string[] arguments, string directory)
{
    // Standard input is a pipe only this process writes: a server reads it and exits when it closes,
    // so a run killed outright leaves no server behind (Children).
    var info = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
    info.Environment[Children.ParentPipeVariable] = "1";
    foreach (var argument in arguments)
    {
        info.ArgumentList.Add(argument);
    }

    var process = Children.Add(Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}."));
    process.OutputDataReceived += (_, _) => { };
    process.ErrorDataReceived += (_, e) =>
    {
        if (e.Data is not null)
        {
            Console.Error.WriteLine($"[{Path.GetFileName(file)}] {e.Data}");
        }
    };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    return process;
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

static string FindRoot()
{
    var directory = new DirectoryInfo(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Flywheel.slnx")))
    {
        directory = directory.Parent;
    }

    return directory?.FullName ?? throw new InvalidOperationException("Run the benchmark from inside the repository.");
}

/// <summary>The floor: the model called in this process, one row at a time, with the inputs built per call.</summary>
internal static class Floor
{
    public static InferenceSession CreateSession(byte[] onnx)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new InferenceSession(onnx, options);
    }

    public static bool Score(InferenceSession session, TrainingRow row) =>
        Score(session, (float)(double)row.Features["amount"]!, (string)row.Features["merchant_category"]!, (bool)row.Features["is_online"]!,
            row.Features["hour"] is double h ? (float)h : float.NaN).Score is >= 0 and <= 1;

    public static (bool Label, float Score) Score(InferenceSession session, float amount, string merchantCategory, bool isOnline, float hour)
    {
        using var amountValue = OrtValue.CreateTensorValueFromMemory([amount], [1, 1]);
        using var category = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, [1, 1]);
        category.StringTensorSetElementAt(merchantCategory.AsSpan(), 0);
        using var online = OrtValue.CreateTensorValueFromMemory([isOnline ? 1f : 0f], [1, 1]);
        using var hourValue = OrtValue.CreateTensorValueFromMemory([hour], [1, 1]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["amount", "merchant_category", "is_online", "hour"], [amountValue, category, online, hourValue],
            ["PredictedLabel.output", "Probability.output"]);
        return (outputs[0].GetTensorDataAsSpan<bool>()[0], outputs[1].GetTensorDataAsSpan<float>()[0]);
    }
}
