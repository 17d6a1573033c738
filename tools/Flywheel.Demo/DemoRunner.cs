using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Flywheel.Core.Demo;

namespace Flywheel.Demo;

/// <summary>
/// Seeds the demo model on a running platform through its public API, then drives live traffic
/// and feedback until cancelled, printing the loop's milestones as the platform reaches them. Safe
/// to start again on the same platform: a model that is already there is resumed, not seeded.
/// </summary>
public sealed class DemoRunner(DemoOptions options, Action<string> log) : IDisposable
{
    public const string TrafficKeyName = "demo-traffic";

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http = new() { BaseAddress = options.Gateway, Timeout = TimeSpan.FromSeconds(100) };
    private readonly List<(DateTimeOffset Due, string PredictionId, bool Label)> _pending = [];
    private readonly Random _labelling = new(options.Seed);
    private long _predicted;
    private long _labelled;
    private long _failures;
    private DateTimeOffset _lastFailureLogged = DateTimeOffset.MinValue;

    /// <summary>Predictions served to the runner since it started.</summary>
    public long Predicted => Interlocked.Read(ref _predicted);

    /// <summary>Labels the platform accepted from the runner since it started.</summary>
    public long Labelled => Interlocked.Read(ref _labelled);

    /// <summary>True once the model is ready and live traffic is flowing.</summary>
    public bool Serving { get; private set; }

    /// <summary>Whether this start found the model already there and skipped seeding.</summary>
    public bool Resumed { get; private set; }

    /// <summary>Runs until <paramref name="cancellationToken"/> fires (true) or the demo cannot go on (false).</summary>
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            Say($"gateway {options.Gateway}, model {options.Model}");
            var production = await PrepareAsync(cancellationToken);
            var predictor = await CreateTrafficKeyAsync(cancellationToken);
            await WaitUntilServingAsync(predictor, cancellationToken);
            // A model already retrained (production past v1) lives in the new world already.
            var switchAt = production > 1 ? DateTimeOffset.UtcNow : DateTimeOffset.UtcNow + options.DriftAfter;
            var generator = new CardFraudGenerator(options.Seed + production, switchAt);
            Say(production > 1
                ? $"live traffic at {Rate} in regime B (the world the model was retrained for)"
                : $"live traffic at {Rate} like the history (regime A); the world changes in {options.DriftAfter.TotalSeconds:0} s");
            Say($"watch it in the console: {new Uri(options.Gateway, $"/models/{options.Model}")} (drift: {new Uri(options.Gateway, $"/models/{options.Model}/drift")})");
            Serving = true;
            await Task.WhenAll(
                TrafficAsync(generator, predictor, cancellationToken),
                FeedbackAsync(predictor, cancellationToken),
                new Milestones(this, _http, options.Model).WatchAsync(options.WatchInterval, cancellationToken),
                ProgressAsync(generator, cancellationToken));
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Say($"stopped after {Predicted:N0} predictions and {Labelled:N0} labels");
            return true;
        }
        catch (DemoException e)
        {
            Say($"cannot go on: {e.Message}");
            return false;
        }
    }

    public void Dispose() => _http.Dispose();

    internal void Say(string line) => log("demo: " + line);

    internal AuthenticationHeaderValue AdminAuthorization => new("Bearer", options.AdminKey);

    private string Rate => string.Create(CultureInfo.InvariantCulture, $"{options.Rate:0.#} req/s × {options.Batch}");

    /// <summary>
    /// Brings the model to "deployed with its policies", doing only the steps not done yet (a
    /// start interrupted halfway picks up where it stopped), and returns its production version.
    /// </summary>
    private async Task<int> PrepareAsync(CancellationToken cancellationToken)
    {
        var model = $"/api/models/{options.Model}";
        using (var existing = await SendAsync(() => new(HttpMethod.Get, model), "looking up the model", cancellationToken, accept: HttpStatusCode.NotFound))
        {
            if (existing.StatusCode == HttpStatusCode.NotFound)
            {
                Say($"defining {options.Model}");
                using var created = await SendAsync(() => Json(HttpMethod.Post, "/api/models", CardFraudGenerator.ModelDefinition), "defining the model", cancellationToken, accept: HttpStatusCode.Conflict);
            }
            else
            {
                Resumed = true;
            }
        }

        using (var deployed = await SendAsync(() => new(HttpMethod.Get, $"{model}/deployment"), "reading the deployment", cancellationToken, accept: HttpStatusCode.NotFound))
        {
            if (deployed.IsSuccessStatusCode)
            {
                var production = (await ReadAsync(deployed, cancellationToken)).GetProperty("production").GetInt32();
                Say($"{options.Model} is already deployed (production v{production}): resuming traffic, no seeding");
                return production;
            }
        }

        Resumed = false;
        using (var ingestions = await SendAsync(() => new(HttpMethod.Get, $"{model}/ingestions"), "listing uploads", cancellationToken))
        {
            if ((await ReadAsync(ingestions, cancellationToken)).GetProperty("ingestions").GetArrayLength() == 0)
            {
                var from = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero) - options.HistoryEndsAgo - TimeSpan.FromDays(options.HistoryDays);
                var history = new CardFraudGenerator(options.Seed, DateTimeOffset.MaxValue).History(from, options.HistoryDays, options.HistoryPerDay).ToList();
                Say($"uploading {options.HistoryDays} days of history ({history.Count:N0} labelled transactions, {history.Count(t => t.IsFraud) / (double)history.Count:P0} fraud)");
                var csv = CardFraudGenerator.ToCsv(history);
                using var uploaded = await SendAsync(() => new(HttpMethod.Post, $"{model}/data") { Content = new StringContent(csv, Encoding.UTF8, "text/csv") }, "uploading history", cancellationToken);
                var report = await ReadAsync(uploaded, cancellationToken);
                Say($"uploaded: {report.GetProperty("accepted").GetInt64():N0} accepted, {report.GetProperty("rejected").GetInt64()} rejected");
            }
        }

        await TrainFirstVersionAsync(model, cancellationToken);

        Say("setting the model policy (retrain on drift or performance, canary, auto promotion) and the monitoring policy");
        using (await SendAsync(() => Json(HttpMethod.Put, $"{model}/policy", new
        {
            require_approval = false,
            rollout = new
            {
                auto = true,
                canary_percent = options.CanaryPercent,
                bake_minutes = options.BakeMinutes,
                analysis_interval_seconds = 5,
                // The demo runs beside everything else on small machines, where a fresh version's p95
                // latency jitters by milliseconds; the demo is about the model's accuracy, so only a
                // canary slower by more than 25 ms counts as worse on latency.
                canary = new { min_requests = 100, min_labelled = 100, latency_floor_ms = 25 },
            },
            retraining = new { on_drift = true, on_performance = true, cooldown_minutes = 30, max_concurrent = 1, window_days = 7 },
        }), "setting the model policy", cancellationToken))
        {
        }

        using (await SendAsync(() => Json(HttpMethod.Put, $"{model}/monitoring/policy", new
        {
            window = new { kind = "count", rows = options.WindowRows },
            evaluation_interval_seconds = options.EvaluationIntervalSeconds,
            minimum_rows = options.MinimumRows,
            cooldown_minutes = 30,
        }), "setting the monitoring policy", cancellationToken))
        {
        }

        using (await SendAsync(() => Json(HttpMethod.Put, $"{model}/deployment", new { production = 1, reason = "first-run demo" }), "deploying v1", cancellationToken))
        {
        }

        Say("v1 deployed to production");
        return 1;
    }

    private async Task TrainFirstVersionAsync(string model, CancellationToken cancellationToken)
    {
        using (var versions = await SendAsync(() => new(HttpMethod.Get, $"{model}/versions"), "listing versions", cancellationToken))
        {
            if ((await ReadAsync(versions, cancellationToken)).GetProperty("versions").GetArrayLength() > 0)
            {
                return;
            }
        }

        // A run still going from an interrupted start is waited for, not started twice.
        Guid runId;
        using (var runs = await SendAsync(() => new(HttpMethod.Get, $"{model}/training-runs"), "listing training runs", cancellationToken))
        {
            var going = (await ReadAsync(runs, cancellationToken)).GetProperty("runs").EnumerateArray()
                .FirstOrDefault(r => r.GetProperty("state").GetString() is "queued" or "running");
            if (going.ValueKind == JsonValueKind.Object)
            {
                runId = going.GetProperty("run_id").GetGuid();
            }
            else
            {
                using var started = await SendAsync(() => Json(HttpMethod.Post, $"{model}/training-runs", new { trainer = "lightgbm", seed = 7 }), "starting training", cancellationToken);
                runId = (await ReadAsync(started, cancellationToken)).GetProperty("run_id").GetGuid();
            }
        }

        Say($"training v1 (LightGBM), run {runId}");
        var step = "";
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            using var polled = await SendAsync(() => new(HttpMethod.Get, $"/api/training-runs/{runId}"), "following training", cancellationToken);
            var run = await ReadAsync(polled, cancellationToken);
            var state = run.GetProperty("state").GetString();
            if (state == "succeeded")
            {
                var auc = run.TryGetProperty("metrics", out var metrics) && metrics.ValueKind == JsonValueKind.Object && metrics.TryGetProperty("auc", out var a) ? a.GetDouble().ToString("0.000", CultureInfo.InvariantCulture) : "?";
                Say($"v{run.GetProperty("version")} trained (held-out AUC {auc})");
                return;
            }

            if (state == "failed")
            {
                throw new DemoException($"training v1 failed: {run.GetProperty("error")}");
            }

            var current = run.GetProperty("steps").EnumerateArray().LastOrDefault(s => s.GetProperty("state").GetString() == "running");
            if (current.ValueKind == JsonValueKind.Object && current.GetProperty("name").GetString() is { } name && name != step)
            {
                step = name;
                Say($"training: {name}");
            }
        }
    }

    /// <summary>
    /// Traffic gets a key of its own with the predictor role. A key is shown only when created, so
    /// each start makes a new one and revokes those earlier starts left behind.
    /// </summary>
    private async Task<string> CreateTrafficKeyAsync(CancellationToken cancellationToken)
    {
        using (var keys = await SendAsync(() => new(HttpMethod.Get, "/api/keys"), "listing keys", cancellationToken))
        {
            foreach (var old in (await ReadAsync(keys, cancellationToken)).GetProperty("keys").EnumerateArray()
                .Where(k => k.GetProperty("name").GetString() == TrafficKeyName && k.GetProperty("revoked_at").ValueKind == JsonValueKind.Null))
            {
                using var revoked = await SendAsync(() => new(HttpMethod.Delete, $"/api/keys/{old.GetProperty("id").GetGuid()}"), "revoking an old traffic key", cancellationToken, accept: HttpStatusCode.NotFound);
            }
        }

        var requestsPerSecond = (int)Math.Ceiling(options.Rate * 2) + 10;
        using var created = await SendAsync(
            () => Json(HttpMethod.Post, "/api/keys", new { name = TrafficKeyName, roles = new[] { "predictor" }, models = new[] { options.Model }, requests_per_second = requestsPerSecond }),
            "creating the traffic key", cancellationToken);
        return (await ReadAsync(created, cancellationToken)).GetProperty("key").GetString()!;
    }

    /// <summary>
    /// Waits (up to a minute) until the model answers ready through the gateway with the traffic
    /// key: a worker loads a just-deployed version, and the gateway learns of a new key, a moment
    /// after the API said yes; traffic before then would only log refusals.
    /// </summary>
    private async Task WaitUntilServingAsync(string key, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1);
        while (DateTimeOffset.UtcNow < deadline)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/models/{options.Model}/ready");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var response = await _http.SendAsync(request, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (Transient(e, cancellationToken))
            {
                // Not up yet; ask again.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }

        Say("the model did not answer ready within a minute; sending traffic anyway");
    }

    private async Task TrafficAsync(CardFraudGenerator generator, string key, CancellationToken cancellationToken)
    {
        // A resumed demo starts in regime B: nothing changes to announce.
        var announced = generator.RegimeAt(DateTimeOffset.UtcNow) == CardFraudRegime.B;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / options.Rate));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var now = DateTimeOffset.UtcNow;
            if (!announced && generator.RegimeAt(now) == CardFraudRegime.B)
            {
                announced = true;
                Say("the world changes: amounts triple, travel dominates, and fraud now means daytime travel (regime B)");
            }

            var transactions = Enumerable.Range(0, options.Batch).Select(_ => generator.Next(now)).ToArray();
            // Labels come back for the new world's traffic only. Regime A's live minute stands for
            // the calm weeks the uploaded history already labelled; had its labels come back too, the
            // retraining run that drift starts would learn mostly the old world from them, rank the
            // new one worse than v1, and the canary analysis would rightly roll it back.
            var labelled = generator.RegimeAt(now) == CardFraudRegime.B;
            var body = JsonSerializer.Serialize(new { instances = transactions.Select(CardFraudGenerator.Instance) });
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/models/{options.Model}:predict") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var response = await _http.SendAsync(request, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    Failed($"predict answered {(int)response.StatusCode}: {await BriefAsync(response, cancellationToken)}");
                    continue;
                }

                var ids = (await ReadAsync(response, cancellationToken)).GetProperty("prediction_ids").EnumerateArray().Select(id => id.GetString()!).ToArray();
                Interlocked.Add(ref _predicted, ids.Length);
                lock (_pending)
                {
                    for (var i = 0; i < ids.Length; i++)
                    {
                        if (labelled && _labelling.NextDouble() < options.FeedbackShare)
                        {
                            _pending.Add((now + options.FeedbackDelay, ids[i], transactions[i].IsFraud));
                        }
                    }
                }
            }
            catch (Exception e) when (Transient(e, cancellationToken))
            {
                Failed($"predict failed: {e.Message}");
            }
        }
    }

    /// <summary>Sends the true labels whose time has come, in bulk; what fails transiently is sent again.</summary>
    private async Task FeedbackAsync(string key, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            List<(DateTimeOffset Due, string PredictionId, bool Label)> due;
            var now = DateTimeOffset.UtcNow;
            lock (_pending)
            {
                due = [.. _pending.Where(p => p.Due <= now).Take(1_000)];
            }

            if (due.Count == 0)
            {
                continue;
            }

            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/models/{options.Model}/feedback")
                {
                    Content = JsonContent.Create(due.Select(p => new { prediction_id = p.PredictionId, label = p.Label })),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var response = await _http.SendAsync(request, cancellationToken);
                if ((int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    Failed($"feedback answered {(int)response.StatusCode}; sending it again");
                    continue;
                }

                if (response.IsSuccessStatusCode)
                {
                    Interlocked.Add(ref _labelled, (await ReadAsync(response, cancellationToken)).GetProperty("accepted").GetInt64());
                }
                else
                {
                    Failed($"feedback answered {(int)response.StatusCode}: {await BriefAsync(response, cancellationToken)}; dropping {due.Count} labels");
                }

                lock (_pending)
                {
                    var sent = due.Select(p => p.PredictionId).ToHashSet();
                    _pending.RemoveAll(p => sent.Contains(p.PredictionId));
                }
            }
            catch (Exception e) when (Transient(e, cancellationToken))
            {
                Failed($"feedback failed: {e.Message}; sending it again");
            }
        }
    }

    private async Task ProgressAsync(CardFraudGenerator generator, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            Say($"{Predicted:N0} predictions, {Labelled:N0} labels sent (regime {generator.RegimeAt(DateTimeOffset.UtcNow)})");
        }
    }

    /// <summary>
    /// Sends a control-plane call until it gets an answer that is not a server error, so that a
    /// platform still starting or briefly down delays the demo instead of ending it. A 4xx other
    /// than <paramref name="accept"/> is a real problem and ends the demo with its message.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> request, string what, CancellationToken cancellationToken, HttpStatusCode? accept = null)
    {
        var backoff = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            try
            {
                using var message = request();
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.AdminKey);
                var response = await _http.SendAsync(message, cancellationToken);
                if (response.IsSuccessStatusCode || response.StatusCode == accept)
                {
                    return response;
                }

                var detail = $"{what}: {(int)response.StatusCode} {await BriefAsync(response, cancellationToken)}";
                response.Dispose();
                if ((int)response.StatusCode < 500 && response.StatusCode != HttpStatusCode.TooManyRequests)
                {
                    throw new DemoException(detail);
                }

                Failed(detail + "; retrying");
            }
            catch (Exception e) when (Transient(e, cancellationToken))
            {
                Failed($"{what}: {e.Message}; retrying");
            }

            await Task.Delay(backoff, cancellationToken);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>Connection errors, timeouts and unreadable answers (a proxy's error page); not the caller's own cancellation.</summary>
    internal static bool Transient(Exception e, CancellationToken cancellationToken) =>
        e is HttpRequestException or IOException or JsonException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>Logs a failure, at most one line every 5 s, so an outage does not flood the terminal.</summary>
    internal void Failed(string message)
    {
        var failures = Interlocked.Increment(ref _failures);
        var now = DateTimeOffset.UtcNow;
        if (now - _lastFailureLogged >= TimeSpan.FromSeconds(5))
        {
            _lastFailureLogged = now;
            Say($"{message} (failures so far: {failures})");
        }
    }

    internal static async Task<JsonElement> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).Clone();

    private static async Task<string> BriefAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return body.Length > 300 ? body[..300] + "…" : body;
    }

    private static HttpRequestMessage Json(HttpMethod method, string path, object body) =>
        new(method, path) { Content = body is string text ? new StringContent(text, Encoding.UTF8, "application/json") : JsonContent.Create(body) };

    private sealed class DemoException(string message) : Exception(message);
}
