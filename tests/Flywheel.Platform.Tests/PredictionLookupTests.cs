using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Flywheel.Core.Serving;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// <c>GET /api/predictions/{id}</c> through the gateway: a prediction served by a trained and
/// deployed model comes back as it was answered and logged (PII hashed), with the label sent for
/// it, and with the chain to the run and snapshot the registry records for its version.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class PredictionLookupTests(PlatformFixture fixture)
{
    private static readonly TimeSpan LogTimeout = TimeSpan.FromSeconds(60);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task A_served_prediction_is_looked_up_with_its_values_label_and_the_lineage_of_its_version()
    {
        using var admin = _flywheel.AdminGateway();
        var definition = TrainingData.FraudModel.Replace(
            "\"categories\": [\"grocery\", \"travel\", \"online\", \"fuel\"] }", "\"categories\": [\"grocery\", \"travel\", \"online\", \"fuel\"], \"pii\": true }",
            StringComparison.Ordinal);
        Assert.Contains("\"pii\": true", definition, StringComparison.Ordinal);
        var model = await admin.DefineModelAsync("lookup", definition);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_500, seed: 9));
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, new { trainer = "fasttree", seed = 3 }), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "lookup tests" }))
        {
            Assert.Equal(HttpStatusCode.OK, deployed.StatusCode);
        }

        var callerName = "lookup-predictor-" + model;
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, callerName, ["predictor"], [model], requestsPerSecond: 100_000));
        using var operatorClient = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "lookup-operator-" + model, ["operator"], null));
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);

        var entity = "lookup-card-" + Guid.NewGuid().ToString("N")[..8];
        var answer = await ServingSetup.PredictAsync(predictor, model, new object[]
        {
            new { amount = 812.25, merchant_category = "travel", is_online = true, hour = 3 },
            new { entity_id = entity, amount = 14.5, merchant_category = "grocery", is_online = false, hour = 13 },
        });
        var ids = answer.GetProperty("prediction_ids").EnumerateArray().Select(id => id.GetGuid()).ToArray();
        var returned = answer.GetProperty("predictions").EnumerateArray().ToArray();
        await using var database = await _flywheel.OpenDatabaseAsync();
        await ServingSetup.WaitForLoggedAsync(database, ids, LogTimeout);

        // The first by its id; the second by its entity and a time after it.
        await SendFeedbackAsync(predictor, model, new { prediction_id = ids[0], label = true });
        var loggedAt = await PredictionTimeAsync(database, ids[1]);
        await SendFeedbackAsync(predictor, model, new { entity_id = entity, event_time = Iso(loggedAt.AddSeconds(5)), label = false });
        // A retried COPY can log a prediction twice: the lookup still answers with one.
        await ExecuteAsync(database, "INSERT INTO inference.predictions SELECT * FROM inference.predictions WHERE prediction_id = $1", ids[0]);

        var found = await LookUpAsync(operatorClient, ids[0]);
        Assert.Equal(ids[0], found.GetProperty("prediction_id").GetGuid());
        Assert.Equal((model, 1, false), (found.GetProperty("model").GetString(), found.GetProperty("version").GetInt32(), found.GetProperty("shadow").GetBoolean()));
        Assert.Equal(answer.GetProperty("model_version").GetInt32(), found.GetProperty("version").GetInt32());
        Assert.Equal(callerName, found.GetProperty("caller").GetString());
        Assert.Equal(JsonValueKind.Null, found.GetProperty("entity_id").ValueKind);
        Assert.True(found.GetProperty("latency_us").GetInt32() > 0);
        // Scored together (or with more, when the batcher joined other requests), not from the cache.
        Assert.InRange(found.GetProperty("batch_size").GetInt32(), 2, 10_000);
        Assert.InRange(found.GetProperty("at").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));

        // Inputs as sent, the PII feature as the log holds it: hashed, never the value.
        var inputs = found.GetProperty("inputs");
        Assert.Equal(812.25, inputs.GetProperty("amount").GetDouble());
        Assert.True(inputs.GetProperty("is_online").GetBoolean());
        Assert.Equal(3.0, inputs.GetProperty("hour").GetDouble());
        // Under the platform's PII key: without it, hashing "travel" does not find the value.
        Assert.Equal(new PiiRedaction(_flywheel.PiiKey).Hash(model, "merchant_category", "travel"), inputs.GetProperty("merchant_category").GetString());
        Assert.StartsWith(PiiRedaction.HashPrefix, inputs.GetProperty("merchant_category").GetString());
        Assert.DoesNotContain("travel", inputs.GetRawText(), StringComparison.Ordinal);

        // Outputs as the caller got them.
        var outputs = found.GetProperty("outputs");
        Assert.Equal(returned[0].GetProperty("label").GetBoolean(), outputs.GetProperty("label").GetBoolean());
        Assert.Equal(returned[0].GetProperty("score").GetDouble(), outputs.GetProperty("score").GetDouble(), 12);
        Assert.Equal(
            returned[0].GetProperty("probabilities").GetProperty("true").GetDouble(),
            outputs.GetProperty("probabilities").GetProperty("true").GetDouble(), 12);

        var feedback = found.GetProperty("feedback");
        Assert.True(feedback.GetProperty("label").GetBoolean());
        Assert.Equal(("prediction_id", true, callerName),
            (feedback.GetProperty("matched_by").GetString(), feedback.GetProperty("joined").GetBoolean(), feedback.GetProperty("caller").GetString()));

        // The chain equals what the registry says of the version.
        var version = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1");
        var lineage = found.GetProperty("lineage");
        var trainingRun = lineage.GetProperty("training_run");
        var snapshot = lineage.GetProperty("snapshot");
        Assert.Equal(version.GetProperty("lineage").GetProperty("run_id").GetGuid(), trainingRun.GetProperty("run_id").GetGuid());
        Assert.Equal(run.GetProperty("run_id").GetGuid(), trainingRun.GetProperty("run_id").GetGuid());
        Assert.Equal(version.GetProperty("lineage").GetProperty("snapshot_id").GetGuid(), snapshot.GetProperty("snapshot_id").GetGuid());
        Assert.Equal(version.GetProperty("lineage").GetProperty("snapshot_sha256").GetString(), snapshot.GetProperty("sha256").GetString());
        Assert.Equal(version.GetProperty("lineage").GetProperty("rows").GetInt64(), snapshot.GetProperty("rows").GetInt64());
        Assert.Equal(("fasttree", 3, "manual"),
            (trainingRun.GetProperty("trainer").GetString(), trainingRun.GetProperty("seed").GetInt32(), trainingRun.GetProperty("trigger").GetString()));
        Assert.Equal(JsonValueKind.Null, lineage.GetProperty("parent_version").ValueKind);
        var links = lineage.GetProperty("links");
        foreach (var link in new[] { "version", "training_run", "snapshot" })
        {
            using var linked = await admin.GetAsync(links.GetProperty(link).GetString());
            Assert.True(linked.StatusCode == HttpStatusCode.OK, $"{link} link {links.GetProperty(link)} answered {(int)linked.StatusCode}");
        }

        var byEntity = await LookUpAsync(operatorClient, ids[1]);
        Assert.Equal(entity, byEntity.GetProperty("entity_id").GetString());
        Assert.Equal(returned[1].GetProperty("score").GetDouble(), byEntity.GetProperty("outputs").GetProperty("score").GetDouble(), 12);
        Assert.False(byEntity.GetProperty("feedback").GetProperty("label").GetBoolean());
        Assert.Equal(("entity_time", true),
            (byEntity.GetProperty("feedback").GetProperty("matched_by").GetString(), byEntity.GetProperty("feedback").GetProperty("joined").GetBoolean()));

        // A shadow's answer never reached a caller: a label sent by its id is stored but not joined.
        var shadow = Guid.CreateVersion7();
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO inference.predictions (prediction_id, at, model, version, shadow, entity_id, inputs, outputs, latency_us, batch_size, caller)
            VALUES ($1, now(), $2, 1, true, NULL, '{"amount": 5}'::jsonb, '{"label": false, "score": 0.1}'::jsonb, 250, 1, 'shadow-test')
            """, database))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = shadow });
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            await insert.ExecuteNonQueryAsync();
        }

        await SendFeedbackAsync(predictor, model, new { prediction_id = shadow, label = true });
        var shadowFound = await LookUpAsync(operatorClient, shadow);
        Assert.True(shadowFound.GetProperty("shadow").GetBoolean());
        Assert.True(shadowFound.GetProperty("feedback").GetProperty("label").GetBoolean());
        Assert.False(shadowFound.GetProperty("feedback").GetProperty("joined").GetBoolean());

        // Not labelled: no feedback, and the lookup needs no label to answer.
        var unlabelled = (await ServingSetup.PredictAsync(predictor, model, new[] { new { amount = 40.0, merchant_category = "fuel", is_online = false, hour = 9 } }))
            .GetProperty("prediction_ids")[0].GetGuid();
        await ServingSetup.WaitForLoggedAsync(database, [unlabelled], LogTimeout);
        Assert.Equal(JsonValueKind.Null, (await LookUpAsync(operatorClient, unlabelled)).GetProperty("feedback").ValueKind);
    }

    [Fact]
    public async Task A_lookup_needs_an_operator_key_a_well_formed_id_and_a_logged_prediction()
    {
        using var admin = _flywheel.AdminGateway();
        var id = Guid.CreateVersion7();
        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using (var response = await anonymous.GetAsync($"/api/predictions/{id}"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "lookup-refused-" + Guid.NewGuid().ToString("N")[..8], ["predictor"], null));
        using (var response = await predictor.GetAsync($"/api/predictions/{id}"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        using var operatorClient = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "lookup-op-" + Guid.NewGuid().ToString("N")[..8], ["operator"], null));
        using (var response = await operatorClient.GetAsync("/api/predictions/not-a-uuid"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Contains("not-a-uuid", problem.GetProperty("errors").GetProperty("predictionId")[0].GetString(), StringComparison.Ordinal);
        }

        foreach (var unknown in new[] { id, Guid.NewGuid() })
        {
            using var response = await operatorClient.GetAsync($"/api/predictions/{unknown}");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains(unknown.ToString(), (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // The admin key reads too.
        using (var response = await admin.GetAsync($"/api/predictions/{id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    private static async Task<JsonElement> LookUpAsync(HttpClient client, Guid id)
    {
        using var response = await client.GetAsync($"/api/predictions/{id}");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"lookup of {id} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task SendFeedbackAsync(HttpClient client, string model, object body)
    {
        using var response = await client.PostAsJsonAsync($"/v1/models/{model}/feedback", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"feedback answered {(int)response.StatusCode}: {text}");
        Assert.Equal(1, JsonDocument.Parse(text).RootElement.GetProperty("accepted").GetInt64());
    }

    private static async Task<DateTimeOffset> PredictionTimeAsync(NpgsqlConnection database, Guid id)
    {
        await using var command = new NpgsqlCommand("SELECT at FROM inference.predictions WHERE prediction_id = $1 LIMIT 1", database);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"prediction {id} is not in the log");
        return reader.GetFieldValue<DateTimeOffset>(0);
    }

    private static async Task ExecuteAsync(NpgsqlConnection database, string sql, Guid id)
    {
        await using var command = new NpgsqlCommand(sql, database);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
