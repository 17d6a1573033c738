using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>Train → deploy → predict through the gateway → every prediction in the log with its version.</summary>
[Collection(SharedPlatform.Name)]
public sealed class ServingTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task A_deployed_version_answers_through_the_gateway_by_features_and_by_entity_and_every_prediction_is_logged_with_its_version()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("serve", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(3_000, seed: 21));
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, new { trainer = "lightgbm", seed = 3 }), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");

        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "first release" }))
        {
            Assert.Equal(HttpStatusCode.OK, deployed.StatusCode);
        }

        // A key may be named in any script: the name reaches the log as it was given.
        var caller = "e2e prédicteur 🙂 100% " + model;
        var predictorKey = await ServingSetup.CreateKeyAsync(admin, caller, ["predictor"], [model]);
        using var predictor = ServingSetup.Client(_flywheel, predictorKey);
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);

        // By features: two instances, two predictions, each with its own id.
        var instances = new object[]
        {
            new { amount = 820.5, merchant_category = "online", is_online = true, hour = 2 },
            new { amount = 4.2, merchant_category = "grocery", is_online = false, hour = 14 },
        };
        var byFeatures = await ServingSetup.PredictAsync(predictor, model, instances);
        Assert.Equal(1, byFeatures.GetProperty("model_version").GetInt32());
        var predictions = byFeatures.GetProperty("predictions").EnumerateArray().ToArray();
        var ids = byFeatures.GetProperty("prediction_ids").EnumerateArray().Select(id => id.GetGuid()).ToArray();
        Assert.Equal(2, predictions.Length);
        Assert.Equal(2, ids.Distinct().Count());
        foreach (var prediction in predictions)
        {
            var score = prediction.GetProperty("score").GetDouble();
            Assert.InRange(score, 0, 1);
            var probabilities = prediction.GetProperty("probabilities");
            Assert.Equal(1.0, probabilities.GetProperty("true").GetDouble() + probabilities.GetProperty("false").GetDouble(), 5);
            Assert.Equal(score >= 0.5, prediction.GetProperty("label").GetBoolean());
        }

        // The model learnt that large night-time online amounts are riskier than small daytime grocery ones.
        Assert.True(predictions[0].GetProperty("score").GetDouble() > predictions[1].GetProperty("score").GetDouble());

        // By entity: the online store supplies the features; the answer equals sending those features.
        var entity = "card-17";
        var stored = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/features/{entity}");
        var features = stored.GetProperty("features");
        var byEntity = await ServingSetup.PredictAsync(predictor, model, [new { entity_id = entity }]);
        var sameFeatures = await ServingSetup.PredictAsync(predictor, model, [JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(features.GetRawText())!]);
        Assert.Equal(
            sameFeatures.GetProperty("predictions")[0].GetProperty("score").GetDouble(),
            byEntity.GetProperty("predictions")[0].GetProperty("score").GetDouble(), 6);
        var entityPrediction = byEntity.GetProperty("prediction_ids")[0].GetGuid();

        // Every prediction is in the log with its model, version, caller and the inputs it was served with.
        await using var database = await _flywheel.OpenDatabaseAsync();
        var logged = await ServingSetup.WaitForLoggedAsync(database, [.. ids, entityPrediction], TimeSpan.FromSeconds(60));
        Assert.All(logged.Values, row => Assert.Equal((model, 1, false, caller), (row.Model, row.Version, row.Shadow, row.Caller)));
        Assert.Equal(820.5, logged[ids[0]].Inputs.GetProperty("amount").GetDouble());
        Assert.Equal(entity, logged[entityPrediction].EntityId);
        Assert.Equal(
            features.GetProperty("amount").GetDouble(),
            logged[entityPrediction].Inputs.GetProperty("amount").GetDouble());

        // Its feedback is stored under the same name.
        using (var feedback = await predictor.PostAsJsonAsync($"/v1/models/{model}/feedback", new { prediction_id = ids[0], label = true }))
        {
            Assert.True(feedback.IsSuccessStatusCode, await feedback.Content.ReadAsStringAsync());
        }

        await using var labelled = new NpgsqlCommand("SELECT caller FROM inference.feedback WHERE prediction_id = $1", database);
        labelled.Parameters.Add(new NpgsqlParameter { Value = ids[0] });
        Assert.Equal(caller, (string?)await labelled.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Predictions_need_a_predictor_key_for_that_model()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("guarded", TrainingData.FraudModel);
        var otherModel = await admin.DefineModelAsync("other", TrainingData.FraudModel);
        var otherKey = await ServingSetup.CreateKeyAsync(admin, "other-" + model, ["predictor"], [otherModel]);
        var body = new { instances = new[] { new { amount = 1.0, merchant_category = "fuel", is_online = false, hour = 1 } } };

        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using (var response = await anonymous.PostAsJsonAsync($"/v1/models/{model}:predict", body))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        using var other = ServingSetup.Client(_flywheel, otherKey);
        using (var response = await other.PostAsJsonAsync($"/v1/models/{model}:predict", body))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }
}

/// <summary>Deploying, keys and predicting, as the serving tests need them.</summary>
internal static class ServingSetup
{
    public static async Task<string> CreateKeyAsync(HttpClient admin, string name, string[] roles, string[]? models, int? requestsPerSecond = null)
    {
        using var response = await admin.PostAsJsonAsync("/api/keys", new { name, roles, models, requests_per_second = requestsPerSecond });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    public static HttpClient Client(FlywheelApp flywheel, string key)
    {
        var client = flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Polls predict until the deployment has reached the workers and <paramref name="version"/> answers.</summary>
    public static async Task WaitUntilServingAsync(HttpClient client, string model, int version, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            using var response = await client.PostAsJsonAsync($"/v1/models/{model}:predict",
                new { instances = new[] { new { amount = 1.0, merchant_category = "fuel", is_online = false, hour = 1 } } });
            last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            if (response.IsSuccessStatusCode &&
                (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("model_version").GetInt32() == version)
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{model} v{version} never served; last answer: {last}");
    }

    public static async Task<JsonElement> PredictAsync<T>(HttpClient client, string model, IEnumerable<T> instances)
    {
        using var response = await client.PostAsJsonAsync($"/v1/models/{model}:predict", new { instances });
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"predict answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body)}");
        AssertSized(response, body);
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>A prediction is answered whole with its length, not chunked (one segment through the gateway).</summary>
    public static void AssertSized(HttpResponseMessage response, byte[] body)
    {
        // The raw header: HttpClient's ContentLength property falls back on the buffered body's length.
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
        Assert.True(response.Content.Headers.NonValidated.TryGetValues("Content-Length", out var length), "no Content-Length");
        Assert.Equal(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(length));
    }

    public sealed record LoggedPrediction(string Model, int Version, bool Shadow, string? Caller, string? EntityId, JsonElement Inputs, JsonElement Outputs);

    /// <summary>Waits until every id is in <c>inference.predictions</c> (the log is written asynchronously) and returns the rows.</summary>
    public static async Task<Dictionary<Guid, LoggedPrediction>> WaitForLoggedAsync(NpgsqlConnection database, Guid[] ids, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var found = new Dictionary<Guid, LoggedPrediction>();
        while (true)
        {
            found.Clear();
            await using var command = new NpgsqlCommand(
                "SELECT prediction_id, model, version, shadow, caller, entity_id, inputs::text, outputs::text FROM inference.predictions WHERE prediction_id = ANY($1)",
                database);
            command.Parameters.Add(new NpgsqlParameter { Value = ids });
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    found[reader.GetGuid(0)] = new LoggedPrediction(
                        reader.GetString(1), reader.GetInt32(2), reader.GetBoolean(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                        JsonDocument.Parse(reader.GetString(6)).RootElement, JsonDocument.Parse(reader.GetString(7)).RootElement);
                }
            }

            if (found.Count == ids.Length || DateTime.UtcNow > deadline)
            {
                Assert.True(found.Count == ids.Length, $"{ids.Length - found.Count} of {ids.Length} predictions never reached the log");
                return found;
            }

            await Task.Delay(200);
        }
    }
}
