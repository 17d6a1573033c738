using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The drift monitor end to end: train and deploy, send traffic through the gateway, and read what
/// the monitor made of it — reports over the API and in <c>monitoring.reports</c>, events in its outbox.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class MonitoringTests(PlatformFixture fixture)
{
    private const string DriftDetectedType = "Flywheel.Contracts.Monitoring.DriftDetected";
    private static readonly string[] Categories = ["grocery", "travel", "online", "fuel"];
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task Traffic_like_training_does_not_drift_shifted_traffic_does_and_the_schedule_publishes_one_event_per_episode_until_a_clean_window_ends_it()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("monitor", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(3_000, seed: 41));
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, new { trainer = "lightgbm", seed = 5 }), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");

        // The schedule stays out of the way until part (c) shortens it.
        await PutPolicyAsync(admin, model, new { evaluation_interval_seconds = 3600 });
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "monitoring test" }))
        {
            Assert.Equal(HttpStatusCode.OK, deployed.StatusCode);
        }

        var predictorKey = await ServingSetup.CreateKeyAsync(admin, "monitor-" + model, ["predictor"], [model]);
        using var predictor = ServingSetup.Client(_flywheel, predictorKey);
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);
        await using var database = await _flywheel.OpenDatabaseAsync();

        // (a) Traffic drawn like the training data: no drift, and every feature tested by its type.
        var normalFrom = DateTimeOffset.UtcNow;
        await SendAsync(predictor, database, model, Traffic(400, seed: 7, shifted: false));
        var normalTo = DateTimeOffset.UtcNow;
        var normal = await EvaluateAsync(admin, model, normalFrom, normalTo);
        Assert.Equal(1, normal.GetProperty("version").GetInt32());
        Assert.Equal(400, normal.GetProperty("window").GetProperty("rows").GetInt64());
        Assert.False(normal.GetProperty("drifted").GetBoolean(), $"traffic like the training data drifted: {normal}");
        var normalFeatures = Features(normal);
        Assert.Equal(["amount", "merchant_category", "is_online", "hour"], normalFeatures.Keys);
        Assert.Equal("kolmogorov_smirnov", normalFeatures["amount"].GetProperty("test").GetString());
        Assert.Equal("chi_squared", normalFeatures["merchant_category"].GetProperty("test").GetString());
        Assert.Equal("chi_squared", normalFeatures["is_online"].GetProperty("test").GetString());
        Assert.Equal("kolmogorov_smirnov", normalFeatures["hour"].GetProperty("test").GetString());
        Assert.All(normalFeatures.Values, f => Assert.InRange(f.GetProperty("p_value").GetDouble(), 0, 1));

        // (b) Amount up by about two standard deviations and most purchases online: drifted, by those two features.
        var shiftedFrom = DateTimeOffset.UtcNow;
        await SendAsync(predictor, database, model, Traffic(400, seed: 8, shifted: true));
        var shifted = await EvaluateAsync(admin, model, shiftedFrom, DateTimeOffset.UtcNow);
        Assert.True(shifted.GetProperty("drifted").GetBoolean(), $"shifted traffic did not drift: {shifted}");
        var shiftedFeatures = Features(shifted);
        Assert.True(shiftedFeatures["amount"].GetProperty("drifted").GetBoolean());
        Assert.True(shiftedFeatures["merchant_category"].GetProperty("drifted").GetBoolean());
        Assert.True(shiftedFeatures["amount"].GetProperty("p_value").GetDouble() < 0.001);
        Assert.False(shiftedFeatures["is_online"].GetProperty("drifted").GetBoolean());
        var prediction = shifted.GetProperty("prediction");
        Assert.Equal("kolmogorov_smirnov", prediction.GetProperty("test").GetString());
        Assert.True(prediction.GetProperty("drifted").GetBoolean(), $"riskier traffic left the scores where they were: {prediction}");
        Assert.Equal(JsonValueKind.Null, shifted.GetProperty("performance").ValueKind);

        // Persisted, and queryable by id and with filters.
        var reportId = shifted.GetProperty("report_id").GetGuid();
        await using (var row = new NpgsqlCommand("SELECT version, rows, drifted, trigger FROM monitoring.reports WHERE report_id = $1", database))
        {
            row.Parameters.Add(new NpgsqlParameter { Value = reportId });
            await using var reader = await row.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal((1, 400L, true, "manual"), (reader.GetInt32(0), reader.GetInt64(1), reader.GetBoolean(2), reader.GetString(3)));
        }

        var byId = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/drift/{reportId}");
        Assert.Equal(reportId, byId.GetProperty("report_id").GetGuid());
        // Stored as jsonb, which orders keys its own way: compared by value, not by text.
        foreach (var (name, feature) in Features(byId))
        {
            Assert.Equal(shiftedFeatures[name].GetProperty("test").GetString(), feature.GetProperty("test").GetString());
            Assert.Equal(shiftedFeatures[name].GetProperty("statistic").GetDouble(), feature.GetProperty("statistic").GetDouble());
            Assert.Equal(shiftedFeatures[name].GetProperty("drifted").GetBoolean(), feature.GetProperty("drifted").GetBoolean());
        }

        var listed = await ReportIdsAsync(admin, $"/api/models/{model}/drift?version=1");
        Assert.Equal([reportId, normal.GetProperty("report_id").GetGuid()], listed);
        Assert.Equal([reportId], await ReportIdsAsync(admin, $"/api/models/{model}/drift?from={Uri.EscapeDataString(shiftedFrom.ToString("O"))}"));
        Assert.Empty(await ReportIdsAsync(admin, $"/api/models/{model}/drift?version=2"));
        using (var bad = await admin.GetAsync($"/api/models/{model}/drift?from=yesterday&version=0"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.True(errors.TryGetProperty("from", out _), errors.ToString());
            Assert.True(errors.TryGetProperty("version", out _), errors.ToString());
        }

        using (var unknown = await admin.GetAsync("/api/models/no-such-model/drift"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        // A window in the future is refused, even with its end given; one without predictions is
        // reported (0 rows) but does not replace the shifted window's verdict on the overview.
        using (var future = await admin.PostAsJsonAsync($"/api/models/{model}/drift/evaluate",
            new { from = DateTimeOffset.UtcNow.AddYears(4), to = DateTimeOffset.UtcNow.AddYears(4).AddDays(1) }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, future.StatusCode);
            Assert.True((await future.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("from", out _));
        }

        var empty = await EvaluateAsync(admin, model, normalFrom.AddHours(-2), normalFrom.AddHours(-1));
        Assert.Equal(0, empty.GetProperty("window").GetProperty("rows").GetInt64());
        var verdict = (await admin.GetFromJsonAsync<JsonElement>("/api/overview")).GetProperty("models").EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == model).GetProperty("drift");
        Assert.Equal((reportId, true), (verdict.GetProperty("report_id").GetGuid(), verdict.GetProperty("drifted").GetBoolean()));

        // (c) The schedule, now every 5 s over the newest 300 predictions (all shifted): several
        // drifted windows, one episode, one DriftDetected, written with the report that opened it.
        var scheduleFrom = DateTimeOffset.UtcNow;
        await PutPolicyAsync(admin, model, new
        {
            window = new { kind = "count", rows = 300 },
            evaluation_interval_seconds = 5,
            minimum_rows = 100,
            cooldown_minutes = 60,
        });
        var scheduled = await WaitForScheduledReportsAsync(database, model, scheduleFrom, count: 3, TimeSpan.FromSeconds(90));
        Assert.All(scheduled, report => Assert.True(report.Drifted));
        Assert.All(scheduled, report => Assert.Equal(300, report.Rows));

        var detected = Assert.Single(await DriftEventsAsync(database, model));
        Assert.Equal(scheduled[0].ReportId, detected.GetProperty("reportId").GetGuid());
        Assert.Equal(1, detected.GetProperty("version").GetInt32());
        var named = detected.GetProperty("driftedFeatures").EnumerateArray().Select(f => f.GetString()).ToList();
        Assert.Contains("amount", named);
        Assert.Contains("merchant_category", named);
        var opening = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/drift/{scheduled[0].ReportId}");
        Assert.Equal(["DriftDetected"], opening.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        var later = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/drift/{scheduled[^1].ReportId}");
        Assert.Equal(0, later.GetProperty("events").GetArrayLength());

        // A clean window ends the episode; drifting again is a new episode with an event of its own.
        // (Reports that read the log while a batch was still arriving may come first, however many a
        // busy machine stores in the meantime: each wait is for the first report that sees the new traffic.)
        var cleanFrom = DateTimeOffset.UtcNow;
        await SendAsync(predictor, database, model, Traffic(600, seed: 9, shifted: false));
        await WaitForScheduledReportsAsync(database, model, cleanFrom, count: 1, TimeSpan.FromSeconds(90), until: report => !report.Drifted);
        Assert.Single(await DriftEventsAsync(database, model));
        var againFrom = DateTimeOffset.UtcNow;
        await SendAsync(predictor, database, model, Traffic(300, seed: 10, shifted: true));
        var again = await WaitForScheduledReportsAsync(database, model, againFrom, count: 1, TimeSpan.FromSeconds(90), until: report => report.Drifted);
        var episodes = await DriftEventsAsync(database, model);
        Assert.Equal(
            [scheduled[0].ReportId, again.First(r => r.Drifted).ReportId],
            episodes.Select(e => e.GetProperty("reportId").GetGuid()));
    }

    private static async Task<List<JsonElement>> DriftEventsAsync(NpgsqlConnection database, string model)
    {
        var events = new List<JsonElement>();
        await using var outbox = new NpgsqlCommand(
            "SELECT body::text FROM monitoring.outbox WHERE message_type = $1 AND body->>'model' = $2 ORDER BY id", database);
        outbox.Parameters.Add(new NpgsqlParameter { Value = DriftDetectedType });
        outbox.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await outbox.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            events.Add(JsonDocument.Parse(reader.GetString(0)).RootElement);
        }

        return events;
    }

    /// <summary>Needs the feedback endpoint and <c>inference.labelled_predictions</c> (migration 0008, branch <c>feedback</c>).</summary>
    [Fact]
    public async Task Labels_that_come_back_give_a_live_metric_with_an_interval_and_a_degraded_one_publishes_one_event()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("monitor-labels", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(3_000, seed: 43));
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, new { trainer = "lightgbm", seed = 5 }), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
        var trainingAuc = (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1")).GetProperty("metrics").GetProperty("auc").GetDouble();
        await PutPolicyAsync(admin, model, new { evaluation_interval_seconds = 3600 });
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1 }))
        {
            Assert.Equal(HttpStatusCode.OK, deployed.StatusCode);
        }

        var predictorKey = await ServingSetup.CreateKeyAsync(admin, "monitor-labels-" + model, ["predictor"], [model]);
        using var predictor = ServingSetup.Client(_flywheel, predictorKey);
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);
        await using var database = await _flywheel.OpenDatabaseAsync();

        // Labels drawn from the process the model learnt: a live AUC near training, with its interval, not degraded.
        var honestFrom = DateTimeOffset.UtcNow;
        var honestTraffic = Traffic(400, seed: 11, shifted: false);
        var honest = await SendAsync(predictor, database, model, honestTraffic);
        await SendFeedbackAsync(predictor, model, honest.Zip(Outcomes(honestTraffic, seed: 12), (p, label) => (p.Id, label)));
        var good = (await EvaluateAsync(admin, model, honestFrom, DateTimeOffset.UtcNow)).GetProperty("performance");
        Assert.Equal("auc", good.GetProperty("metric").GetString());
        Assert.Equal(400, good.GetProperty("labelled_rows").GetInt64());
        Assert.Equal(trainingAuc, good.GetProperty("training_value").GetDouble());
        var (value, low, high) = (good.GetProperty("value").GetDouble(), good.GetProperty("ci_low").GetDouble(), good.GetProperty("ci_high").GetDouble());
        Assert.True(low < value && value < high && high - low < 0.3, $"interval [{low}, {high}] around {value}");
        Assert.True(low > 0.5, $"the model ranks live outcomes no better than chance: {good}");
        Assert.False(good.GetProperty("degraded").GetBoolean(), good.ToString());
        Assert.Contains(good.GetProperty("metrics").EnumerateArray(), m => m.GetProperty("metric").GetString() == "accuracy");

        // Labels the scores rank backwards: the interval lies far below training, so degraded —
        // and the schedule publishes PerformanceDegraded once however many windows show it.
        var invertedTraffic = Traffic(300, seed: 13, shifted: false);
        var inverted = await SendAsync(predictor, database, model, invertedTraffic);
        var median = inverted.Select(p => p.Score).Order().ElementAt(inverted.Count / 2);
        await SendFeedbackAsync(predictor, model, inverted.Select(p => (p.Id, p.Score < median)));
        var scheduleFrom = DateTimeOffset.UtcNow;
        await PutPolicyAsync(admin, model, new { window = new { kind = "count", rows = 300 }, evaluation_interval_seconds = 5 });
        var scheduled = await WaitForScheduledReportsAsync(database, model, scheduleFrom, count: 3, TimeSpan.FromSeconds(90));
        var bad = (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/drift/{scheduled[0].ReportId}")).GetProperty("performance");
        Assert.Equal(300, bad.GetProperty("labelled_rows").GetInt64());
        Assert.True(bad.GetProperty("ci_high").GetDouble() < trainingAuc - 0.05, bad.ToString());
        Assert.True(bad.GetProperty("degraded").GetBoolean(), bad.ToString());

        await using var outbox = new NpgsqlCommand(
            "SELECT body::text FROM monitoring.outbox WHERE message_type = 'Flywheel.Contracts.Monitoring.PerformanceDegraded' AND body->>'model' = $1", database);
        outbox.Parameters.Add(new NpgsqlParameter { Value = model });
        var events = new List<JsonElement>();
        await using (var reader = await outbox.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                events.Add(JsonDocument.Parse(reader.GetString(0)).RootElement);
            }
        }

        var degraded = Assert.Single(events);
        Assert.Equal(scheduled[0].ReportId, degraded.GetProperty("reportId").GetGuid());
        Assert.Equal("auc", degraded.GetProperty("metric").GetString());
        Assert.Equal(trainingAuc, degraded.GetProperty("trainingValue").GetDouble());
        Assert.Equal(300, degraded.GetProperty("labelledRows").GetInt64());
    }

    [Fact]
    public async Task The_policy_has_defaults_round_trips_for_operators_rejects_bad_fields_refuses_predictors_and_is_audited()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("monitor-policy", TrainingData.FraudModel);

        var defaults = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/monitoring/policy");
        var policy = defaults.GetProperty("policy");
        Assert.Equal("time", policy.GetProperty("window").GetProperty("kind").GetString());
        Assert.Equal(60, policy.GetProperty("window").GetProperty("minutes").GetInt32());
        // The platform-wide default for models without a policy (300 s unless configured; the tests' platform sets it).
        Assert.Equal(FlywheelApp.DefaultEvaluationIntervalSeconds, policy.GetProperty("evaluation_interval_seconds").GetInt32());
        Assert.Equal(100, policy.GetProperty("minimum_rows").GetInt32());
        Assert.Equal(0.05, policy.GetProperty("drift").GetProperty("ks_p_value").GetDouble());
        Assert.Equal(1000, policy.GetProperty("drift").GetProperty("large_sample").GetInt64());
        Assert.Equal(JsonValueKind.Null, defaults.GetProperty("updated_at").ValueKind);

        var operatorKey = await ServingSetup.CreateKeyAsync(admin, "monitor-operator-" + model, ["operator"], null);
        using var @operator = ServingSetup.Client(_flywheel, operatorKey);
        var changed = await PutPolicyAsync(@operator, model, new
        {
            window = new { kind = "count", rows = 500 },
            evaluation_interval_seconds = 30,
            minimum_rows = 50,
            drift = new { psi = 0.3, feature_tests = new Dictionary<string, string> { ["amount"] = "psi" } },
            performance_tolerance = 0.02,
            cooldown_minutes = 10,
        });
        var read = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/monitoring/policy");
        Assert.True(JsonElement.DeepEquals(changed.GetProperty("policy"), read.GetProperty("policy")), $"{changed} was stored as {read}");
        var stored = read.GetProperty("policy");
        Assert.Equal("count", stored.GetProperty("window").GetProperty("kind").GetString());
        Assert.Equal(500, stored.GetProperty("window").GetProperty("rows").GetInt32());
        Assert.Equal(30, stored.GetProperty("evaluation_interval_seconds").GetInt32());
        Assert.Equal(0.3, stored.GetProperty("drift").GetProperty("psi").GetDouble());
        Assert.Equal(0.05, stored.GetProperty("drift").GetProperty("ks_p_value").GetDouble());
        Assert.Equal("psi", stored.GetProperty("drift").GetProperty("feature_tests").GetProperty("amount").GetString());
        Assert.Equal(0.02, stored.GetProperty("performance_tolerance").GetDouble());
        Assert.Equal("monitor-operator-" + model, read.GetProperty("updated_by").GetString());

        using (var invalid = await admin.PutAsJsonAsync($"/api/models/{model}/monitoring/policy", new
        {
            window = new { kind = "count", rows = 0 },
            evaluation_interval_seconds = 1,
            drift = new { ks_p_value = 2.0, feature_tests = new Dictionary<string, string> { ["nope"] = "psi", ["merchant_category"] = "wasserstein" } },
        }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
            var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Equal(
                ["drift.feature_tests.merchant_category", "drift.feature_tests.nope", "drift.ks_p_value", "evaluation_interval_seconds", "window.rows"],
                errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        }

        using (var badKind = await admin.PutAsJsonAsync($"/api/models/{model}/monitoring/policy", new { window = new { kind = "weekly" } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badKind.StatusCode);
            var errors = (await badKind.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.True(errors.TryGetProperty("window.kind", out _), errors.ToString());
        }

        var predictorKey = await ServingSetup.CreateKeyAsync(admin, "monitor-predictor-" + model, ["predictor"], [model]);
        using var predictor = ServingSetup.Client(_flywheel, predictorKey);
        using (var refused = await predictor.PutAsJsonAsync($"/api/models/{model}/monitoring/policy", new { minimum_rows = 10 }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var refused = await predictor.PostAsJsonAsync($"/api/models/{model}/drift/evaluate", new { }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var readable = await predictor.GetAsync($"/api/models/{model}/monitoring/policy"))
        {
            Assert.Equal(HttpStatusCode.OK, readable.StatusCode);
        }

        // Reads are open, as the registry's are (the console reads with no key); changes are not.
        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using (var readable = await anonymous.GetAsync($"/api/models/{model}/monitoring/policy"))
        {
            Assert.Equal(HttpStatusCode.OK, readable.StatusCode);
        }

        using (var readable = await anonymous.GetAsync($"/api/models/{model}/drift"))
        {
            Assert.Equal(HttpStatusCode.OK, readable.StatusCode);
        }

        using (var refused = await anonymous.PutAsJsonAsync($"/api/models/{model}/monitoring/policy", new { minimum_rows = 10 }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (var unknown = await admin.GetAsync("/api/models/no-such-model/monitoring/policy"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        // Not deployed: nothing to evaluate, said as a conflict rather than an empty report.
        using (var undeployed = await admin.PostAsJsonAsync($"/api/models/{model}/drift/evaluate", new { }))
        {
            Assert.Equal(HttpStatusCode.Conflict, undeployed.StatusCode);
        }

        // Only the accepted change is in the audit log, with who made it and what it replaced.
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var audit = new NpgsqlCommand(
            "SELECT actor, detail::text FROM registry.audit_log WHERE action = 'monitoring.policy.update' AND subject = $1", database);
        audit.Parameters.Add(new NpgsqlParameter { Value = model });
        await using var reader = await audit.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("monitor-operator-" + model, reader.GetString(0));
        var detail = JsonDocument.Parse(reader.GetString(1)).RootElement;
        Assert.Equal(500, detail.GetProperty("policy").GetProperty("window").GetProperty("rows").GetInt32());
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("previous").ValueKind);
        Assert.False(await reader.ReadAsync());
    }

    /// <summary>
    /// Instances drawn like <see cref="TrainingData.FraudCsv"/>'s; shifted ones add 400 to the amount
    /// (its standard deviation is about 200) and send 70% of purchases to "online".
    /// </summary>
    private static List<Dictionary<string, object?>> Traffic(int rows, int seed, bool shifted)
    {
        var random = new Random(seed);
        var instances = new List<Dictionary<string, object?>>(rows);
        for (var i = 0; i < rows; i++)
        {
            var amount = Math.Round(random.NextDouble() * random.NextDouble() * 900, 2) + (shifted ? 400 : 0);
            var category = shifted
                ? (random.NextDouble() < 0.7 ? "online" : "travel")
                : Categories[random.Next(Categories.Length)];
            var online = random.NextDouble() < 0.4;
            int? hour = random.NextDouble() < 0.05 ? null : random.Next(24);
            instances.Add(new() { ["amount"] = amount, ["merchant_category"] = category, ["is_online"] = online, ["hour"] = hour });
        }

        return instances;
    }

    /// <summary>Predicts in batches through the gateway, waits until every prediction is in the log, and returns each one's id and score.</summary>
    private static async Task<List<(Guid Id, double Score)>> SendAsync(
        HttpClient predictor, NpgsqlConnection database, string model, List<Dictionary<string, object?>> instances)
    {
        var served = new List<(Guid Id, double Score)>();
        foreach (var batch in instances.Chunk(100))
        {
            var answer = await ServingSetup.PredictAsync(predictor, model, batch);
            served.AddRange(answer.GetProperty("prediction_ids").EnumerateArray().Zip(
                answer.GetProperty("predictions").EnumerateArray(),
                (id, prediction) => (id.GetGuid(), prediction.GetProperty("score").GetDouble())));
        }

        await ServingSetup.WaitForLoggedAsync(database, [.. served.Select(p => p.Id)], TimeSpan.FromSeconds(60));
        return served;
    }

    /// <summary>The true outcome of each instance, drawn from the process <see cref="TrainingData.FraudCsv"/> labels by.</summary>
    private static List<bool> Outcomes(List<Dictionary<string, object?>> instances, int seed)
    {
        var random = new Random(seed);
        return [.. instances.Select(i =>
        {
            var hour = (int?)i["hour"];
            var logit = -3.0 + ((double)i["amount"]! / 250) + ((string)i["merchant_category"]! == "online" ? 1.2 : 0) +
                ((bool)i["is_online"]! ? 0.8 : 0) + (hour is < 5 ? 1.0 : 0);
            return random.NextDouble() < 1 / (1 + Math.Exp(-logit));
        })];
    }

    private static async Task SendFeedbackAsync(HttpClient predictor, string model, IEnumerable<(Guid Id, bool Label)> labels)
    {
        using var response = await predictor.PostAsJsonAsync(
            $"/v1/models/{model}/feedback", labels.Select(l => new { prediction_id = l.Id, label = l.Label }).ToArray());
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"feedback answered {(int)response.StatusCode}: {body}");
    }

    private static async Task<JsonElement> EvaluateAsync(HttpClient admin, string model, DateTimeOffset from, DateTimeOffset to)
    {
        using var response = await admin.PostAsJsonAsync($"/api/models/{model}/drift/evaluate", new { from, to });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"evaluate answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static async Task<JsonElement> PutPolicyAsync(HttpClient client, string model, object policy)
    {
        using var response = await client.PutAsJsonAsync($"/api/models/{model}/monitoring/policy", policy);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"policy PUT answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static Dictionary<string, JsonElement> Features(JsonElement report) =>
        report.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);

    /// <summary>
    /// The ids of the reports this test asked for, newest first. The schedule looks at a newly
    /// deployed model once as soon as its window holds enough rows (an hour's interval only starts
    /// after that), so a report of its own may sit among them.
    /// </summary>
    private static async Task<List<Guid>> ReportIdsAsync(HttpClient client, string uri)
    {
        var list = await client.GetFromJsonAsync<JsonElement>(uri);
        return [.. list.GetProperty("reports").EnumerateArray()
            .Where(r => r.GetProperty("trigger").GetString() == "manual")
            .Select(r => r.GetProperty("report_id").GetGuid())];
    }

    private sealed record StoredReport(Guid ReportId, bool Drifted, long Rows);

    /// <summary>Waits for <paramref name="count"/> scheduled reports created after <paramref name="after"/>, oldest first.</summary>
    private static async Task<List<StoredReport>> WaitForScheduledReportsAsync(
        NpgsqlConnection database, string model, DateTimeOffset after, int count, TimeSpan timeout, Func<StoredReport, bool>? until = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var reports = new List<StoredReport>();
            await using (var command = new NpgsqlCommand(
                "SELECT report_id, drifted, rows FROM monitoring.reports WHERE model = $1 AND trigger = 'scheduled' AND created_at > $2 ORDER BY created_at",
                database))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = model });
                command.Parameters.Add(new NpgsqlParameter { Value = after });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    reports.Add(new StoredReport(reader.GetGuid(0), reader.GetBoolean(1), reader.GetInt64(2)));
                }
            }

            if (reports.Count >= count && (until is null || reports.Any(until)))
            {
                return reports;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{reports.Count} of {count} scheduled reports after {timeout}{(until is null ? "" : ", none of them the one awaited")}: {string.Join(", ", reports.Select(r => r.Drifted ? "drifted" : "clean"))}");
            await Task.Delay(500);
        }
    }
}
