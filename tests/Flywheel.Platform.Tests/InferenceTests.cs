using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Contracts.Serving;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>The inference worker called directly: a trained version deployed by SQL, served over V1 and V2.</summary>
[Collection(SharedPlatform.Name)]
public sealed class InferenceTests(PlatformFixture fixture)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task A_deployed_version_serves_v1_by_features_and_by_entity_and_v2_tensors_and_refuses_bad_input_with_4xx()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("serve", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(1_500, seed: 5));
        var run = await TrainingData.WaitForRunAsync(gateway, await TrainingData.StartRunAsync(gateway, model, new { trainer = "sdca", seed = 3 }), Timeout);
        Assert.True(run.GetProperty("state").GetString() == "succeeded", run.ToString());
        await using var database = NpgsqlDataSource.Create(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        await DeployAsync(database, model, 1);
        using var inference = _flywheel.CreateClient(ResourceNames.Inference);
        await WaitForReadyAsync(inference, model);

        // The worker checks the key of every call itself: none, an unknown one, or one for another model is refused.
        var request = new { instances = new[] { new { amount = 1.0, merchant_category = "grocery", is_online = false, hour = 1 } } };
        using (var noKey = await inference.PostAsJsonAsync($"/v1/models/{model}:predict", request))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
            Assert.Equal("application/problem+json", noKey.Content.Headers.ContentType?.MediaType);
        }

        using (var feedback = await inference.PostAsJsonAsync($"/v1/models/{model}/feedback", new { prediction_id = Guid.NewGuid(), label = true }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, feedback.StatusCode);
        }

        var otherModel = await gateway.DefineModelAsync("serve-other", TrainingData.FraudModel);
        using (var other = new HttpRequestMessage(HttpMethod.Post, $"/v1/models/{model}:predict") { Content = JsonContent.Create(request) })
        {
            other.Headers.Authorization = new("Bearer", await ServingSetup.CreateKeyAsync(gateway, "other-" + otherModel, ["predictor"], [otherModel]));
            Assert.Equal(HttpStatusCode.Forbidden, (await inference.SendAsync(other)).StatusCode);
        }

        // With a key, the caller logged is the key's name, whatever a header claims.
        var predictorName = "direct-" + model;
        inference.DefaultRequestHeaders.Authorization = new("Bearer", await ServingSetup.CreateKeyAsync(gateway, predictorName, ["predictor"], [model]));
        using (var claimed = new HttpRequestMessage(HttpMethod.Post, $"/v1/models/{model}:predict") { Content = JsonContent.Create(request) })
        {
            claimed.Headers.Add(ServingHeaders.Caller, "someone-else");
            using var answered = await inference.SendAsync(claimed);
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
            var id = (await answered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("prediction_ids")[0].GetGuid();
            await using var connection = await _flywheel.OpenDatabaseAsync();
            var logged = await ServingSetup.WaitForLoggedAsync(connection, [id], TimeSpan.FromSeconds(60));
            Assert.Equal(predictorName, logged[id].Caller);
        }

        // By features: a probability, the same answer for the same inputs, a new prediction id each time.
        var instance = new { amount = 700.0, merchant_category = "online", is_online = true, hour = 2 };
        var first = await PredictAsync(inference, model, new { instances = new[] { instance, instance with { amount = 5.0, merchant_category = "grocery", is_online = false, hour = 14 } } });
        var second = await PredictAsync(inference, model, new { instances = new[] { instance } });
        var risky = first.GetProperty("predictions")[0];
        var safe = first.GetProperty("predictions")[1];
        Assert.InRange(risky.GetProperty("score").GetDouble(), 0, 1);
        Assert.True(risky.GetProperty("score").GetDouble() > safe.GetProperty("score").GetDouble(), first.ToString());
        Assert.Equal(risky.GetProperty("score").GetDouble(), second.GetProperty("predictions")[0].GetProperty("score").GetDouble());
        Assert.Equal(1, first.GetProperty("model_version").GetInt32());
        Assert.True(risky.GetProperty("label").ValueKind is JsonValueKind.True or JsonValueKind.False, risky.ToString());
        Assert.Equal(1 - risky.GetProperty("score").GetDouble(), risky.GetProperty("probabilities").GetProperty("false").GetDouble(), 5);
        Assert.NotEqual(first.GetProperty("prediction_ids")[0].GetGuid(), second.GetProperty("prediction_ids")[0].GetGuid());

        // By entity: the online store fills in what the instance leaves out, exactly as if it were given.
        await TrainingData.UploadAsync(gateway, model,
            $"event_id,event_time,entity_id,amount,merchant_category,is_online,hour,is_fraud\nx-1,{DateTimeOffset.UtcNow:O},card-x,700,online,true,2,1\n");
        var byEntity = await PredictAsync(inference, model, new { instances = new[] { new { entity_id = "card-x" } } });
        Assert.Equal(risky.GetProperty("score").GetDouble(), byEntity.GetProperty("predictions")[0].GetProperty("score").GetDouble(), 6);

        // V2: named tensors give the same probability; metadata names the provider.
        using var infer = await inference.PostAsJsonAsync($"/v2/models/{model}/infer", new
        {
            id = "req-1",
            inputs = new object[]
            {
                new { name = "amount", datatype = "FP32", shape = new[] { 1, 1 }, data = new[] { 700.0 } },
                new { name = "merchant_category", datatype = "BYTES", shape = new[] { 1, 1 }, data = new[] { "online" } },
                new { name = "is_online", datatype = "FP32", shape = new[] { 1, 1 }, data = new[] { 1.0 } },
                new { name = "hour", datatype = "FP32", shape = new[] { 1, 1 }, data = new[] { 2.0 } },
            },
        });
        var v2Bytes = await infer.Content.ReadAsByteArrayAsync();
        var v2 = JsonDocument.Parse(v2Bytes).RootElement;
        Assert.True(infer.StatusCode == HttpStatusCode.OK, v2.ToString());
        ServingSetup.AssertSized(infer, v2Bytes);
        Assert.Equal("req-1", v2.GetProperty("id").GetString());
        var probability = v2.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == "Probability.output");
        Assert.Equal(risky.GetProperty("score").GetDouble(), probability.GetProperty("data")[0].GetDouble(), 6);
        var metadata = await inference.GetFromJsonAsync<JsonElement>($"/v2/models/{model}");
        Assert.Equal("onnxruntime", metadata.GetProperty("platform").GetString());
        Assert.Contains(metadata.GetProperty("provider").GetString(), new[] { "CPUExecutionProvider", "CUDAExecutionProvider" });
        Assert.Equal(4, metadata.GetProperty("inputs").GetArrayLength());

        // Malformed requests: each a 4xx naming what is wrong, never a 5xx.
        string good = """{ "amount": 1, "merchant_category": "fuel", "is_online": true }""";
        (string Body, string? ContentType, int Status, string? Field)[] bad =
        [
            ("{", "application/json", 400, "body"),
            ("""{ "instances": [] }""", "application/json", 400, "instances"),
            ("""{ "instances": 3 }""", "application/json", 400, "instances"),
            ("""{ }""", "application/json", 400, "instances"),
            ("""{ "instances": [ 1 ] }""", "application/json", 400, "instances[0]"),
            ("""{ "instances": [ { "amount": "NaN", "merchant_category": "fuel", "is_online": true } ] }""", "application/json", 400, "instances[0].amount"),
            ("""{ "instances": [ { "amount": -1, "merchant_category": "fuel", "is_online": true } ] }""", "application/json", 400, "instances[0].amount"),
            ("""{ "instances": [ { "amount": 1, "merchant_category": "casino", "is_online": true } ] }""", "application/json", 400, "instances[0].merchant_category"),
            ("""{ "instances": [ { "amount": 1, "merchant_category": "fuel", "is_online": "yes" } ] }""", "application/json", 400, "instances[0].is_online"),
            ("""{ "instances": [ { "amount": 1, "merchant_category": "fuel", "is_online": true, "hour": 99 } ] }""", "application/json", 400, "instances[0].hour"),
            ("""{ "instances": [ { "amount": 1, "merchant_category": "fuel", "is_online": true, "colour": 1 } ] }""", "application/json", 400, "instances[0].colour"),
            ("""{ "instances": [ { "merchant_category": "fuel", "is_online": true } ] }""", "application/json", 400, "instances[0].amount"),
            ("""{ "instances": [ { "entity_id": "card-nobody" } ] }""", "application/json", 400, "instances[0].entity_id"),
            ($$"""{ "instances": [ {{good}}, { "amount": 1 } ] }""", "application/json", 400, "instances[1].merchant_category"),
            ($$"""{ "instances": [ {{string.Join(",", Enumerable.Repeat(good, 1001))}} ] }""", "application/json", 400, "instances"),
            ($$"""{ "instances": [ {{good}} ] }""", "text/plain", 415, null),
            ($$"""{ "instances": [ {{good}} ], "pad": "{{new string('x', 5 * 1024 * 1024)}}" }""", "application/json", 413, null),
        ];
        foreach (var (body, contentType, status, field) in bad)
        {
            using var content = new StringContent(body, Encoding.UTF8, contentType!);
            using var response = await inference.PostAsync($"/v1/models/{model}:predict", content);
            var problem = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == status, $"{body[..Math.Min(body.Length, 120)]} → {(int)response.StatusCode} {problem}");
            if (field is not null)
            {
                Assert.True(JsonDocument.Parse(problem).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"{field} not in {problem}");
            }
        }

        (object Body, string Field)[] badTensors =
        [
            (new { inputs = new[] { new { name = "amount", datatype = "BYTES", shape = new[] { 1, 1 }, data = new object[] { "1" } } } }, "inputs[0].datatype"),
            (new { inputs = new[] { new { name = "amount", datatype = "FP32", shape = new[] { 2, 1 }, data = new object[] { 1.0 } } } }, "inputs[0].data"),
            (new { inputs = new[] { new { name = "amout", datatype = "FP32", shape = new[] { 1, 1 }, data = new object[] { 1.0 } } } }, "inputs[0].name"),
            (new { inputs = new[] { new { name = "amount", datatype = "FP32", shape = new[] { 1, 3 }, data = new object[] { 1.0 } } } }, "inputs[0].shape"),
            (new { inputs = Array.Empty<object>() }, "inputs"),
        ];
        foreach (var (body, field) in badTensors)
        {
            using var response = await inference.PostAsJsonAsync($"/v2/models/{model}/infer", body);
            var problem = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem);
            Assert.True(JsonDocument.Parse(problem).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"{field} not in {problem}");
        }

        // Predict with another method: 405 naming the method it takes, not a 404 for a model named "m:predict".
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Put, HttpMethod.Delete })
        {
            using var wrongMethod = await inference.SendAsync(new HttpRequestMessage(method, $"/v1/models/{model}:predict"));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
            Assert.Equal(["POST"], wrongMethod.Content.Headers.Allow);
            Assert.Equal("application/problem+json", wrongMethod.Content.Headers.ContentType?.MediaType);
        }

        // Readiness of a version the deployment does not name is never coming: 404, as its metadata; not a version at all: 400.
        using (var undeployedReady = await inference.GetAsync($"/v2/models/{model}/versions/7/ready"))
        {
            Assert.Equal(HttpStatusCode.NotFound, undeployedReady.StatusCode);
        }

        using (var notAVersion = await inference.GetAsync($"/v2/models/{model}/versions/latest/ready"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notAVersion.StatusCode);
        }

        using var notDeployed = new HttpRequestMessage(HttpMethod.Post, $"/v1/models/{model}:predict") { Content = JsonContent.Create(new { instances = new[] { instance } }) };
        notDeployed.Headers.Add(ServingHeaders.Version, "7");
        Assert.Equal(HttpStatusCode.NotFound, (await inference.SendAsync(notDeployed)).StatusCode);
    }

    private static async Task DeployAsync(NpgsqlDataSource database, string model, int version)
    {
        await using var command = database.CreateCommand("""
            INSERT INTO registry.deployments (model, revision, production, updated_by) VALUES ($1, 1, $2, 'inference-tests')
            ON CONFLICT (model) DO UPDATE SET production = EXCLUDED.production, revision = registry.deployments.revision + 1, updated_at = now()
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        await command.ExecuteNonQueryAsync();
    }

    private static async Task WaitForReadyAsync(HttpClient inference, string model)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTimeOffset.UtcNow < deadline)
        {
            using var response = await inference.GetAsync($"/v2/models/{model}/ready");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"{model} did not become ready");
    }

    private static async Task<JsonElement> PredictAsync(HttpClient inference, string model, object body)
    {
        using var response = await inference.PostAsJsonAsync($"/v1/models/{model}:predict", body);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var json = JsonDocument.Parse(bytes).RootElement;
        Assert.True(response.StatusCode == HttpStatusCode.OK, json.ToString());
        ServingSetup.AssertSized(response, bytes);
        Assert.Equal(json.GetProperty("model_version").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture),
            response.Headers.GetValues(ServingHeaders.ModelVersion).Single());
        return json;
    }
}
