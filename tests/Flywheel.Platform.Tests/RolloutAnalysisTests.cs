using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Flywheel.Core.Rollouts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Retraining triggers and rollouts with automatic canary analysis, through the gateway, with real
/// traffic: the verdicts come from the prediction log the workers write.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class RolloutAnalysisTests(PlatformFixture fixture)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RolloutTimeout = TimeSpan.FromMinutes(4);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    /// <summary>
    /// A short bake with an even split, so a test sees a verdict within a minute of traffic. A fresh
    /// version's p95 jitters by milliseconds on a busy machine, so only a canary slower by more than
    /// 25 ms counts as worse on latency here (as in the demo); the latency test sets its own.
    /// </summary>
    private static object QuickRollout(object? canary = null, double shadowMinutes = 0) => new
    {
        shadow_minutes = shadowMinutes,
        canary_percent = 50,
        bake_minutes = 0.4,
        analysis_interval_seconds = 3,
        canary = canary ?? new { min_requests = 40, latency_floor_ms = 25 },
    };

    [Fact]
    public async Task A_retrained_version_shadows_then_goes_to_canary_by_itself_and_the_analysis_promotes_it_with_the_reason_in_the_history()
    {
        var admin = _flywheel.AdminGateway();
        var model = await DeployedModelAsync(admin, "autoroll");
        // The shadow phase ends by time alone, and traffic starts only once the test has seen the
        // run succeed: 18 s leaves a busy machine room to mirror some of it.
        await PutPolicyAsync(admin, model, new { rollout = QuickRollout(shadowMinutes: 0.3), retraining = new { cooldown_minutes = 0 } });

        var requestId = await RetrainAsync(admin, model, "labels shifted");
        var decision = await WaitForDecisionAsync(admin, model, requestId);
        Assert.Equal(("manual", "started"), (decision.GetProperty("trigger").GetString(), decision.GetProperty("decision").GetString()));
        Assert.Equal(1, decision.GetProperty("parent_version").GetInt32());
        var runId = decision.GetProperty("run_id").GetGuid();
        var run = await TrainingData.WaitForRunAsync(admin, runId, RunTimeout);
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"the retraining run did not succeed: {run}");
        Assert.Equal("manual", run.GetProperty("trigger").GetString());
        Assert.Equal(2, run.GetProperty("version").GetInt32());
        // The retrain repeats the serving version's recipe.
        Assert.Equal(8, run.GetProperty("hyperparameters").GetProperty("num_leaves").GetDouble());

        // The rollout of a retraining run's version has the run's id. Four rows a request: the
        // latency check counts each request once, the traffic check each row.
        var rollout = await DriveTrafficUntilAsync(admin, model, runId, state => state is "promoted" or "rolled_back" or "failed", rowsPerRequest: 4);

        Assert.True(rollout.GetProperty("state").GetString() == "promoted", $"not promoted: {rollout}");
        Assert.Equal((2, 1), (rollout.GetProperty("version").GetInt32(), rollout.GetProperty("production_version").GetInt32()));
        var final = rollout.GetProperty("analyses").EnumerateArray().Last();
        Assert.True(final.GetProperty("bake_complete").GetBoolean());
        Assert.Equal("promote", final.GetProperty("outcome").GetString());
        var checks = final.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
        Assert.True(checks["traffic"].GetProperty("passed").GetBoolean());
        Assert.InRange(checks["traffic"].GetProperty("canary").GetDouble(), 40, double.MaxValue);
        Assert.True(checks["latency_p95"].GetProperty("passed").GetBoolean());
        var counted = Regex.Match(checks["latency_p95"].GetProperty("detail").GetString()!, @"over ([\d,]+) and ([\d,]+) requests\)$");
        Assert.True(counted.Success, checks["latency_p95"].ToString());
        var canaryRequests = long.Parse(counted.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        var canaryRows = checks["traffic"].GetProperty("canary").GetDouble();
        // Rows and latencies come from one snapshot, so they agree: each request's four rows counted
        // once, up to the sample's cap. The worker writes its log in batches of rows, so the snapshot
        // may hold part of the last request it saw, which counts as a request.
        Assert.Equal(Math.Min(((long)canaryRows + 3) / 4, CanaryAnalysis.LatencySample), canaryRequests);

        var deployment = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal(2, deployment.GetProperty("production").GetInt32());
        Assert.Equal(JsonValueKind.Null, deployment.GetProperty("canary").ValueKind);
        var history = await HistoryAsync(admin, model);
        Assert.Equal(["promote", "deploy", "deploy", "deploy"], history.Select(h => h.GetProperty("action").GetString()));
        Assert.Equal(["orchestrator", "orchestrator", "orchestrator", "bootstrap-admin"], history.Select(h => h.GetProperty("actor").GetString()));
        Assert.Equal(final.GetProperty("reason").GetString(), history[0].GetProperty("reason").GetString());
        Assert.StartsWith("Promoted: no check found the canary worse", history[0].GetProperty("reason").GetString());
        Assert.Equal(2, history[1].GetProperty("deployment").GetProperty("canary").GetProperty("version").GetInt32());
        Assert.Equal((2, 100.0), (history[2].GetProperty("deployment").GetProperty("shadow").GetProperty("version").GetInt32(),
            history[2].GetProperty("deployment").GetProperty("shadow").GetProperty("percent").GetDouble()));
        Assert.Equal(["requested", "shadow_started", "canary_started", "analysis_passed", "promoted"],
            rollout.GetProperty("timeline").EnumerateArray().Select(e => e.GetProperty("event").GetString()!).ToArray());
        // The shadow's mirrored requests were logged as shadow rows of version 2.
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var shadows = new NpgsqlCommand("SELECT count(*) FROM inference.predictions WHERE model = $1 AND version = 2 AND shadow", database);
        shadows.Parameters.Add(new NpgsqlParameter { Value = model });
        Assert.True((long)(await shadows.ExecuteScalarAsync())! > 0);
    }

    [Fact]
    public async Task A_clearly_slower_canary_is_rolled_back_by_itself_and_the_history_says_why()
    {
        var admin = _flywheel.AdminGateway();
        var model = await DeployedModelAsync(admin, "slowcanary");
        // Version 2 is an honest, much bigger model: thousands of trees where version 1 has a hundred.
        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 32, num_iterations = 5000 }, seed = 2 }, expectedVersion: 2);
        using (var serving = await admin.PutAsJsonAsync($"/api/models/{model}/serving", new { max_batch_wait_ms = 0 }))
        {
            Assert.Equal(HttpStatusCode.OK, serving.StatusCode);
        }

        // A strict latency policy: any significant slowdown of the p95 is worse.
        await PutPolicyAsync(admin, model, new { rollout = QuickRollout(new { min_requests = 40, latency_p95_ratio = 1.0, latency_floor_ms = 0 }) });

        // Three requests at once, before the orchestrator has started any: one rollout, the others refused.
        var requests = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            using var response = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts", new { version = 2 });
            return (response.StatusCode, Body: await response.Content.ReadFromJsonAsync<JsonElement>());
        }));
        var accepted = Assert.Single(requests, r => r.StatusCode == HttpStatusCode.Accepted);
        Assert.All(requests.Where(r => r.StatusCode != HttpStatusCode.Accepted), refused =>
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("A rollout is in progress", refused.Body.GetProperty("title").GetString());
        });
        var rolloutId = accepted.Body.GetProperty("rollout_id").GetGuid();

        // While the rollout drives the traffic, a change by hand is refused with the way to take over.
        using (var byHand = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "by hand" }))
        using (var rollback = await admin.PostAsJsonAsync($"/api/models/{model}/rollback", new { reason = "by hand" }))
        {
            foreach (var refused in new[] { byHand, rollback })
            {
                Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
                var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal("A rollout is in progress", problem.GetProperty("title").GetString());
                Assert.Contains($"/rollouts/{rolloutId}/reject", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }
        }

        var rollout = await DriveTrafficUntilAsync(admin, model, rolloutId, state => state is "promoted" or "rolled_back" or "failed");
        Assert.Single((await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/rollouts")).GetProperty("rollouts").EnumerateArray());

        Assert.True(rollout.GetProperty("state").GetString() == "rolled_back", $"not rolled back: {rollout}");
        var decisive = rollout.GetProperty("analyses").EnumerateArray().Last();
        Assert.Equal("roll_back", decisive.GetProperty("outcome").GetString());
        var latency = decisive.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "latency_p95");
        Assert.False(latency.GetProperty("passed").GetBoolean());
        Assert.True(latency.GetProperty("canary").GetDouble() > latency.GetProperty("production").GetDouble(), latency.ToString());

        var deployment = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal(1, deployment.GetProperty("production").GetInt32());
        Assert.Equal(JsonValueKind.Null, deployment.GetProperty("canary").ValueKind);
        var history = await HistoryAsync(admin, model);
        Assert.Equal(("orchestrator", "rollback"), (history[0].GetProperty("actor").GetString(), history[0].GetProperty("action").GetString()));
        var reason = history[0].GetProperty("reason").GetString()!;
        Assert.StartsWith("Rolled back", reason);
        Assert.Contains("canary p95 latency", reason);
        Assert.Equal(decisive.GetProperty("reason").GetString(), reason);
    }

    [Fact]
    public async Task A_canary_that_fails_requests_is_rolled_back_for_its_error_rate_and_every_failure_is_logged_against_it()
    {
        var admin = _flywheel.AdminGateway();
        var model = await DeployedModelAsync(admin, "faulty");
        var version = await RegisterFaultyVersionAsync(admin, model);
        await PutPolicyAsync(admin, model, new { rollout = QuickRollout() });
        var rolloutId = await StartRolloutAsync(admin, model, version);

        // Amounts across [0, 900): the faulty version fails a third of its requests, production none.
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "faulty-traffic", ["predictor"], [model], requestsPerSecond: 100_000));
        var random = new Random(11);
        var answered = new Dictionary<int, int>();
        var failed = new List<JsonElement>();
        var deadline = DateTime.UtcNow + RolloutTimeout;
        JsonElement rollout = default;
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the rollout of the faulty version did not finish: {rollout}");
            var instance = new { amount = Math.Round(random.NextDouble() * 900, 2), merchant_category = "grocery", is_online = false, hour = 12 };
            using var response = await predictor.PostAsJsonAsync($"/v1/models/{model}:predict", new { instances = new[] { instance } });
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var served = body.GetProperty("model_version").GetInt32();
                answered[served] = answered.GetValueOrDefault(served) + 1;
            }
            else
            {
                Assert.True(response.StatusCode == HttpStatusCode.InternalServerError, $"predict answered {(int)response.StatusCode}: {body}");
                Assert.True(instance.amount >= FaultyOnnxModel.FailsFrom, $"an amount the faulty model can score failed: {instance.amount}");
                failed.Add(body);
            }

            if ((answered.Values.Sum() + failed.Count) % 10 == 0)
            {
                rollout = await RolloutAsync(admin, model, rolloutId);
                if (rollout.GetProperty("state").GetString() is "promoted" or "rolled_back" or "failed")
                {
                    break;
                }
            }
        }

        Assert.True(rollout.GetProperty("state").GetString() == "rolled_back", $"not rolled back: {rollout}");
        Assert.NotEmpty(failed);
        Assert.True(answered.GetValueOrDefault(version) > 0, "the faulty version never answered: its small amounts should score");
        var problem = failed[0];
        Assert.Equal("The model failed to score the request", problem.GetProperty("title").GetString());
        Assert.Equal(version, problem.GetProperty("model_version").GetInt32());
        Assert.Contains("Gather", problem.GetProperty("detail").GetString());

        // The analysis judged it on the errors the workers logged: the error-rate check failed.
        var decisive = rollout.GetProperty("analyses").EnumerateArray().Last();
        Assert.Equal("roll_back", decisive.GetProperty("outcome").GetString());
        var errorRate = decisive.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "error_rate");
        Assert.False(errorRate.GetProperty("passed").GetBoolean());
        Assert.Equal(0, errorRate.GetProperty("production").GetDouble());
        Assert.InRange(errorRate.GetProperty("canary").GetDouble(), 0.05, 1);
        var history = await HistoryAsync(admin, model);
        Assert.Equal(("orchestrator", "rollback"), (history[0].GetProperty("actor").GetString(), history[0].GetProperty("action").GetString()));
        Assert.Contains("canary error rate", history[0].GetProperty("reason").GetString());
        var deployment = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal(1, deployment.GetProperty("production").GetInt32());
        Assert.Equal(JsonValueKind.Null, deployment.GetProperty("canary").ValueKind);

        // Every failed request is in the error log once, against the faulty version, with the caller and ONNX Runtime's reason.
        await using var database = await _flywheel.OpenDatabaseAsync();
        var logged = new List<(int Version, int Rows, int Status, string Error, string? Caller)>();
        for (var wait = DateTime.UtcNow + TimeSpan.FromSeconds(60); DateTime.UtcNow < wait && logged.Count < failed.Count; await Task.Delay(200))
        {
            logged.Clear();
            await using var errors = new NpgsqlCommand("SELECT version, rows, status, error, caller FROM inference.prediction_errors WHERE model = $1", database);
            errors.Parameters.Add(new NpgsqlParameter { Value = model });
            await using var reader = await errors.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                logged.Add((reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }

        Assert.Equal(failed.Count, logged.Count);
        Assert.All(logged, error =>
        {
            Assert.Equal((version, 1, 500, "faulty-traffic"), (error.Version, error.Rows, error.Status, error.Caller));
            Assert.Contains("indices element out of data bounds", error.Error);
        });
    }

    /// <summary>
    /// Registers version 2 of <paramref name="model"/> as a copy of version 1's record whose artifact
    /// is <see cref="FaultyOnnxModel"/>, stored in Blob by its hash like every artifact. (No training
    /// run produces a model that fails at run time, so the test stores one as the trainer would.)
    /// </summary>
    private async Task<int> RegisterFaultyVersionAsync(HttpClient admin, string model)
    {
        var first = await admin.GetByteArrayAsync($"/api/models/{model}/versions/1/artifact");
        string classes;
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(first))
        {
            classes = session.ModelMetadata.CustomMetadataMap["flywheel.classes"];
        }

        var onnx = FaultyOnnxModel.Build(classes);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(onnx));
        var blobs = new Azure.Storage.Blobs.BlobServiceClient(await _flywheel.ConnectionStringAsync(Flywheel.Contracts.ResourceNames.Artifacts));
        var blob = blobs.GetBlobContainerClient(Flywheel.Contracts.BlobContainers.Models).GetBlobClient($"{model}/{sha256}.onnx");
        await blob.UploadAsync(new BinaryData(onnx), overwrite: true);

        await using var database = await _flywheel.OpenDatabaseAsync();
        // Version 1's record, with the faulty artifact's address (same container, path by hash) and hash.
        await using var insert = new NpgsqlCommand("""
            INSERT INTO registry.model_versions (model, version, run_id, metrics, artifact_uri, artifact_sha256, artifact_bytes,
                parity_max_abs_diff, parity_max_rel_diff, parity_rows, reference_profile, snapshot_id, snapshot_sha256, rows,
                trainer, hyperparameters, seed, code_version, parent_version, trigger, split)
            SELECT model, 2, gen_random_uuid(), metrics, replace(artifact_uri, artifact_sha256, $2), $2, $3,
                parity_max_abs_diff, parity_max_rel_diff, parity_rows, reference_profile, snapshot_id, snapshot_sha256, rows,
                trainer, hyperparameters, seed, code_version, 1, 'manual', split
            FROM registry.model_versions WHERE model = $1 AND version = 1
            """, database);
        insert.Parameters.Add(new NpgsqlParameter { Value = model });
        insert.Parameters.Add(new NpgsqlParameter { Value = sha256 });
        insert.Parameters.Add(new NpgsqlParameter { Value = (long)onnx.Length });
        Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        return 2;
    }

    [Fact]
    public async Task With_require_approval_a_passing_canary_waits_for_an_operator_approval_promotes_and_rejection_rolls_back_both_audited()
    {
        var admin = _flywheel.AdminGateway();
        var model = await DeployedModelAsync(admin, "approval");
        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 8 }, seed = 2 }, expectedVersion: 2);
        await PutPolicyAsync(admin, model, new { require_approval = true, rollout = QuickRollout() });

        var first = await StartRolloutAsync(admin, model, version: 2);
        var waiting = await DriveTrafficUntilAsync(admin, model, first, state => state is "awaiting_approval" or "promoted" or "rolled_back" or "failed");
        Assert.True(waiting.GetProperty("state").GetString() == "awaiting_approval", $"not awaiting approval: {waiting}");
        Assert.Equal("promote", waiting.GetProperty("analyses").EnumerateArray().Last().GetProperty("outcome").GetString());

        // Held: a while later nothing is promoted; the canary keeps its share.
        await Task.Delay(TimeSpan.FromSeconds(6));
        var held = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal((1, 2), (held.GetProperty("production").GetInt32(), held.GetProperty("canary").GetProperty("version").GetInt32()));
        Assert.Equal("awaiting_approval", (await RolloutAsync(admin, model, first)).GetProperty("state").GetString());

        using (var approve = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts/{first}/approve", new { reason = "looks good" }))
        {
            Assert.Equal(HttpStatusCode.Accepted, approve.StatusCode);
        }

        var promoted = await WaitForRolloutAsync(admin, model, first, state => state is "promoted" or "failed");
        Assert.Equal("promoted", promoted.GetProperty("state").GetString());
        var history = await HistoryAsync(admin, model);
        Assert.Equal(("orchestrator", "promote", 2), (history[0].GetProperty("actor").GetString(), history[0].GetProperty("action").GetString(),
            history[0].GetProperty("deployment").GetProperty("production").GetInt32()));
        Assert.StartsWith("Approved by bootstrap-admin: looks good. Promoted:", history[0].GetProperty("reason").GetString());
        using (var again = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts/{first}/approve", new { }))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }

        // Version 1 back as a candidate, rejected once it passed: production stays on version 2.
        var second = await StartRolloutAsync(admin, model, version: 1);
        var waitingAgain = await DriveTrafficUntilAsync(admin, model, second, state => state is "awaiting_approval" or "promoted" or "rolled_back" or "failed");
        Assert.True(waitingAgain.GetProperty("state").GetString() == "awaiting_approval", $"not awaiting approval: {waitingAgain}");
        using (var reject = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts/{second}/reject", new { reason = "not this one" }))
        {
            Assert.Equal(HttpStatusCode.Accepted, reject.StatusCode);
        }

        var rejected = await WaitForRolloutAsync(admin, model, second, state => state is "rolled_back" or "failed");
        Assert.Equal("rolled_back", rejected.GetProperty("state").GetString());
        var deployment = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal(2, deployment.GetProperty("production").GetInt32());
        Assert.Equal(JsonValueKind.Null, deployment.GetProperty("canary").ValueKind);
        history = await HistoryAsync(admin, model);
        Assert.Equal(("orchestrator", "rollback"), (history[0].GetProperty("actor").GetString(), history[0].GetProperty("action").GetString()));
        Assert.Equal("Rejected by bootstrap-admin: not this one.", history[0].GetProperty("reason").GetString());

        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var audit = new NpgsqlCommand(
            "SELECT actor, action, detail->>'rollout_id' FROM registry.audit_log WHERE subject = $1 AND action LIKE 'rollout.%' ORDER BY id", database);
        audit.Parameters.Add(new NpgsqlParameter { Value = model });
        var entries = new List<string>();
        await using (var reader = await audit.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                entries.Add($"{reader.GetString(0)}|{reader.GetString(1)}|{reader.GetString(2)}");
            }
        }

        Assert.Equal(
            [$"bootstrap-admin|rollout.requested|{first}", $"bootstrap-admin|rollout.approved|{first}",
             $"bootstrap-admin|rollout.requested|{second}", $"bootstrap-admin|rollout.rejected|{second}"],
            entries);
    }

    [Fact]
    public async Task Two_triggers_within_the_cooldown_start_one_run_and_the_second_is_recorded_as_skipped_with_its_reason()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("cooldown", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(800, seed: 41));
        // Concurrency is not the limit here, the cooldown is.
        await PutPolicyAsync(admin, model, new { rollout = new { auto = false }, retraining = new { cooldown_minutes = 60, max_concurrent = 5 } });

        var first = await RetrainAsync(admin, model, "first");
        var firstDecision = await WaitForDecisionAsync(admin, model, first);
        var second = await RetrainAsync(admin, model, "second");
        var secondDecision = await WaitForDecisionAsync(admin, model, second);

        Assert.Equal("started", firstDecision.GetProperty("decision").GetString());
        Assert.Equal("skipped", secondDecision.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, secondDecision.GetProperty("run_id").ValueKind);
        var reason = secondDecision.GetProperty("reason").GetString()!;
        Assert.Contains("within the cooldown", reason);
        Assert.Contains("retraining.cooldown_minutes", reason);
        Assert.Equal("second", secondDecision.GetProperty("detail").GetProperty("reason").GetString());

        // Exactly one training run exists, the first trigger's, recorded with its trigger.
        await WaitForRunRecordedAsync(admin, firstDecision.GetProperty("run_id").GetGuid());
        var runs = (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/training-runs")).GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(firstDecision.GetProperty("run_id").GetGuid(), Assert.Single(runs).GetProperty("run_id").GetGuid());
        Assert.Equal("manual", runs[0].GetProperty("trigger").GetString());
    }

    [Fact]
    public async Task The_monitors_drift_report_starts_a_drift_run_and_a_performance_report_the_policy_turns_off_is_skipped()
    {
        var admin = _flywheel.AdminGateway();
        var model = await DeployedModelAsync(admin, "monitored");
        await PutPolicyAsync(admin, model, new { rollout = new { auto = false }, retraining = new { on_performance = false, cooldown_minutes = 0, max_concurrent = 5 } });

        // The drift monitor publishes through its outbox; these go through the registry's, onto the same bus.
        var drift = Guid.NewGuid();
        var performance = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        await using (var database = await _flywheel.OpenDatabaseAsync())
        {
            await PublishAsync(database, "Flywheel.Contracts.Monitoring.DriftDetected", new
            {
                reportId = drift, model, version = 1, windowFrom = now.AddHours(-1), windowTo = now, rows = 500L, driftedShare = 0.5,
                driftedFeatures = new[] { "amount", "hour" }, predictionDrifted = true, detectedAt = now,
            });
            await PublishAsync(database, "Flywheel.Contracts.Monitoring.PerformanceDegraded", new
            {
                reportId = performance, model, version = 1, metric = "auc", value = 0.61, ciLow = 0.55, ciHigh = 0.67, trainingValue = 0.8,
                labelledRows = 400L, detectedAt = now,
            });
        }

        var driftDecision = await WaitForDecisionAsync(admin, model, drift);
        Assert.Equal(("drift", "started", "drift-monitor"),
            (driftDecision.GetProperty("trigger").GetString(), driftDecision.GetProperty("decision").GetString(), driftDecision.GetProperty("requested_by").GetString()));
        Assert.Equal(["amount", "hour"], driftDecision.GetProperty("detail").GetProperty("drifted_features").EnumerateArray().Select(f => f.GetString()!).ToArray());
        var run = await WaitForRunRecordedAsync(admin, driftDecision.GetProperty("run_id").GetGuid());
        Assert.Equal("drift", run.GetProperty("trigger").GetString());

        var performanceDecision = await WaitForDecisionAsync(admin, model, performance);
        Assert.Equal(("performance", "skipped"), (performanceDecision.GetProperty("trigger").GetString(), performanceDecision.GetProperty("decision").GetString()));
        Assert.Contains("retraining.on_performance", performanceDecision.GetProperty("reason").GetString());
    }

    private static async Task PublishAsync(NpgsqlConnection database, string type, object body)
    {
        await using var insert = new NpgsqlCommand(
            "INSERT INTO registry.outbox (message_type, body) VALUES ($1, $2::jsonb)", database);
        insert.Parameters.Add(new NpgsqlParameter { Value = type });
        insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(body) });
        await insert.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task A_cron_schedule_starts_a_run_recorded_with_the_schedule_trigger()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("scheduled", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(800, seed: 43));
        var setAt = DateTimeOffset.UtcNow;
        await PutPolicyAsync(admin, model, new { rollout = new { auto = false }, retraining = new { schedule = "* * * * *", cooldown_minutes = 60 } });

        // Every minute: the next minute boundary fires, within the scheduler's 30 s look.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        JsonElement? scheduled = null;
        while (scheduled is null && DateTime.UtcNow < deadline)
        {
            var decisions = (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/retraining")).GetProperty("decisions");
            scheduled = decisions.EnumerateArray().Where(d => d.GetProperty("trigger").GetString() == "schedule").Select(d => (JsonElement?)d).LastOrDefault();
            await Task.Delay(500);
        }

        Assert.True(scheduled is not null, "the schedule never fired");
        var decision = scheduled.Value;
        Assert.Equal(("started", "scheduler"), (decision.GetProperty("decision").GetString(), decision.GetProperty("requested_by").GetString()));
        var occurrence = decision.GetProperty("detail").GetProperty("occurrence").GetDateTimeOffset();
        Assert.True(occurrence > setAt, $"fired for {occurrence:O}, before the schedule was set at {setAt:O}");
        Assert.Equal(0, occurrence.Second);
        var run = await WaitForRunRecordedAsync(admin, decision.GetProperty("run_id").GetGuid());
        Assert.Equal(("schedule", "scheduler"), (run.GetProperty("trigger").GetString(), run.GetProperty("requested_by").GetString()));
    }

    [Fact]
    public async Task A_bad_policy_is_refused_by_field_and_a_predictor_key_may_change_nothing()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("policy", TrainingData.FraudModel);

        var defaults = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/policy");
        Assert.Equal(10, defaults.GetProperty("rollout").GetProperty("canary_percent").GetDouble());
        Assert.True(defaults.GetProperty("rollout").GetProperty("auto").GetBoolean());
        Assert.Equal(1, defaults.GetProperty("retraining").GetProperty("max_concurrent").GetInt32());

        using (var bad = await admin.PutAsJsonAsync($"/api/models/{model}/policy", new
        {
            rollout = new { canary_percent = 100, bake_minutes = 0, canary = new { latency_p95_ratio = 0.5 } },
            retraining = new { schedule = "every day", cooldown_minutes = -1, window_days = 0 },
        }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Equal(
                new HashSet<string>
                {
                    "rollout.canary_percent", "rollout.bake_minutes", "rollout.canary.latency_p95_ratio",
                    "retraining.schedule", "retraining.cooldown_minutes", "retraining.window_days",
                },
                errors.EnumerateObject().Select(e => e.Name).ToHashSet());
        }

        var good = new { require_approval = true, rollout = new { canary_percent = 25 }, retraining = new { schedule = "0 3 * * 1", window_days = 30 } };
        using (var put = await admin.PutAsJsonAsync($"/api/models/{model}/policy", good))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var stored = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/policy");
        Assert.True(stored.GetProperty("require_approval").GetBoolean());
        Assert.Equal(25, stored.GetProperty("rollout").GetProperty("canary_percent").GetDouble());
        Assert.Equal("0 3 * * 1", stored.GetProperty("retraining").GetProperty("schedule").GetString());
        Assert.Equal(30, stored.GetProperty("retraining").GetProperty("window_days").GetInt32());

        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "policy-" + model, ["predictor"], [model]));
        using (var put = await predictor.PutAsJsonAsync($"/api/models/{model}/policy", new { require_approval = false }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        }

        using (var retrain = await predictor.PostAsJsonAsync($"/api/models/{model}/retrain", new { }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, retrain.StatusCode);
        }

        using (var rollout = await predictor.PostAsJsonAsync($"/api/models/{model}/rollouts", new { version = 1 }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, rollout.StatusCode);
        }

        using (var approve = await predictor.PostAsJsonAsync($"/api/models/{model}/rollouts/{Guid.NewGuid()}/approve", new { }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, approve.StatusCode);
        }

        Assert.True((await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/policy")).GetProperty("require_approval").GetBoolean());
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var audit = new NpgsqlCommand("SELECT count(*) FROM registry.audit_log WHERE subject = $1 AND action = 'model.policy_changed'", database);
        audit.Parameters.Add(new NpgsqlParameter { Value = model });
        Assert.Equal(1L, await audit.ExecuteScalarAsync());
    }

    /// <summary>A fresh model with data and version 1 (LightGBM, 8 leaves) deployed to production.</summary>
    private static async Task<string> DeployedModelAsync(HttpClient admin, string prefix)
    {
        var model = await admin.DefineModelAsync(prefix, TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_500, seed: 31));
        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 8 }, seed = 1 }, expectedVersion: 1);
        using var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "first version" });
        Assert.True(deployed.StatusCode == HttpStatusCode.OK, await deployed.Content.ReadAsStringAsync());
        // The deployment reaches the workers by notification; on a loaded machine that takes a moment.
        await ServingSetup.WaitUntilServingAsync(admin, model, 1);
        return model;
    }

    private static async Task TrainAsync(HttpClient admin, string model, object request, int expectedVersion)
    {
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, request), RunTimeout);
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
        Assert.Equal(expectedVersion, run.GetProperty("version").GetInt32());
    }

    private static async Task PutPolicyAsync(HttpClient admin, string model, object policy)
    {
        using var response = await admin.PutAsJsonAsync($"/api/models/{model}/policy", policy);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    private static async Task<Guid> RetrainAsync(HttpClient admin, string model, string reason)
    {
        using var response = await admin.PostAsJsonAsync($"/api/models/{model}/retrain", new { reason });
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("request_id").GetGuid();
    }

    private static async Task<Guid> StartRolloutAsync(HttpClient admin, string model, int version)
    {
        using var response = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts", new { version });
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rollout_id").GetGuid();
    }

    private static async Task<JsonElement> WaitForDecisionAsync(HttpClient admin, string model, Guid triggerId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var decisions = (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/retraining")).GetProperty("decisions");
            if (decisions.EnumerateArray().FirstOrDefault(d => d.GetProperty("id").GetGuid() == triggerId) is { ValueKind: JsonValueKind.Object } found)
            {
                return found;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"The retraining trigger {triggerId} of {model} was never decided.");
        return default;
    }

    /// <summary>The registry records a decided run when the orchestrator's request reaches it, a moment after the decision.</summary>
    private static async Task<JsonElement> WaitForRunRecordedAsync(HttpClient admin, Guid runId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            using var response = await admin.GetAsync($"/api/training-runs/{runId}");
            if (response.StatusCode != HttpStatusCode.NotFound || DateTime.UtcNow > deadline)
            {
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"training run {runId} was never recorded: {(int)response.StatusCode}");
                return await response.Content.ReadFromJsonAsync<JsonElement>();
            }

            await Task.Delay(200);
        }
    }

    private static async Task<JsonElement?> TryRolloutAsync(HttpClient admin, string model, Guid rolloutId)
    {
        using var response = await admin.GetAsync($"/api/models/{model}/rollouts/{rolloutId}");
        return response.StatusCode == HttpStatusCode.NotFound ? null : await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<JsonElement> RolloutAsync(HttpClient admin, string model, Guid rolloutId) =>
        await TryRolloutAsync(admin, model, rolloutId) ?? throw new InvalidOperationException($"rollout {rolloutId} not found");

    private static async Task<JsonElement> WaitForRolloutAsync(HttpClient admin, string model, Guid rolloutId, Func<string, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JsonElement? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await TryRolloutAsync(admin, model, rolloutId);
            if (last is { } rollout && until(rollout.GetProperty("state").GetString()!))
            {
                return rollout;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"Rollout {rolloutId} did not get there: {last}");
        return default;
    }

    /// <summary>Sends predictions through the gateway, one at a time, until the rollout reaches a state <paramref name="until"/> accepts.</summary>
    private async Task<JsonElement> DriveTrafficUntilAsync(HttpClient admin, string model, Guid rolloutId, Func<string, bool> until, int rowsPerRequest = 1)
    {
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "traffic-" + Guid.NewGuid().ToString("N")[..8], ["predictor"], [model], requestsPerSecond: 100_000));
        var random = new Random(7);
        string[] categories = ["grocery", "travel", "online", "fuel"];
        var deadline = DateTime.UtcNow + RolloutTimeout;
        var lastLook = DateTime.MinValue;
        JsonElement? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var instances = Enumerable.Range(0, rowsPerRequest).Select(_ => (object)new
            {
                amount = Math.Round(random.NextDouble() * 900, 2), merchant_category = categories[random.Next(4)], is_online = random.Next(2) == 1, hour = random.Next(24),
            }).ToArray();
            await ServingSetup.PredictAsync(predictor, model, instances);
            if (DateTime.UtcNow - lastLook > TimeSpan.FromSeconds(1))
            {
                lastLook = DateTime.UtcNow;
                last = await TryRolloutAsync(admin, model, rolloutId);
                if (last is { } rollout && until(rollout.GetProperty("state").GetString()!))
                {
                    return rollout;
                }
            }
        }

        Assert.Fail($"Rollout {rolloutId} of {model} did not finish within {RolloutTimeout}: {last}");
        return default;
    }

    private static async Task<List<JsonElement>> HistoryAsync(HttpClient admin, string model) =>
        (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment/history")).GetProperty("history").EnumerateArray().ToList();
}
