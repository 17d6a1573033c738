using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>Changing what serves, through the gateway, while clients keep calling.</summary>
[Collection(SharedPlatform.Name)]
public sealed class RolloutTests(PlatformFixture fixture)
{
    private static readonly object Instance = new { amount = 300.0, merchant_category = "travel", is_online = true, hour = 22 };
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task A_deployment_change_under_continuous_load_completes_with_zero_failed_requests()
    {
        var admin = _flywheel.AdminGateway();
        var model = await TrainVersionsAsync(admin, "swap", versions: 2);
        await DeployAsync(admin, model, 1);
        // Four clients in a tight loop outrun the default 1,000 requests a second of a key.
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "swap-" + model, ["predictor"], [model], requestsPerSecond: 100_000));
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);

        using var stop = new CancellationTokenSource();
        var failures = new List<string>();
        var seen = new List<int>[4];
        var clients = Enumerable.Range(0, seen.Length).Select(client => Task.Run(async () =>
        {
            var versions = seen[client] = [];
            while (!stop.IsCancellationRequested)
            {
                using var response = await predictor.PostAsJsonAsync($"/v1/models/{model}:predict", new { instances = new[] { Instance } });
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    lock (failures)
                    {
                        failures.Add($"{(int)response.StatusCode} {body}");
                    }

                    continue;
                }

                versions.Add(JsonDocument.Parse(body).RootElement.GetProperty("model_version").GetInt32());
            }
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(2));
        await DeployAsync(admin, model, 2);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && !seen.All(s => { lock (s) { return s.Count > 0 && s[^1] == 2; } }))
        {
            await Task.Delay(100);
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        Assert.Empty(failures);
        foreach (var versions in seen)
        {
            Assert.Equal(1, versions[0]);
            Assert.Equal(2, versions[^1]);
            // One switch per client: once the new version answered, the old one never did again.
            Assert.Equal(versions.Order().ToArray(), versions.ToArray());
        }
    }

    [Fact]
    public async Task A_tampered_artifact_is_refused_while_the_serving_version_keeps_serving()
    {
        var admin = _flywheel.AdminGateway();
        var (model, predictor) = await ServingVersionOneAsync(admin, "tamper", versions: 2);
        using var _ = predictor;

        // Someone with storage access swaps version 2's bytes after it was registered.
        var v2 = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/2");
        var sha256 = v2.GetProperty("artifact").GetProperty("sha256").GetString();
        var blobs = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts));
        var blob = blobs.GetBlobContainerClient(BlobContainers.Models).GetBlobClient($"{model}/{sha256}.onnx");
        await blob.UploadAsync(BinaryData.FromBytes(Encoding.UTF8.GetBytes("a model that is not the registered one")), overwrite: true);

        await DeployAsync(admin, model, 2);

        // The worker refuses the version whose bytes do not hash to the registry's SHA-256; every
        // request meanwhile is answered, by the version that was serving.
        using var inference = _flywheel.CreateClient(ResourceNames.Inference);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(8);
        var answered = 0;
        while (DateTime.UtcNow < until)
        {
            var prediction = await ServingSetup.PredictAsync(predictor, model, [Instance]);
            Assert.Equal(1, prediction.GetProperty("model_version").GetInt32());
            answered++;
            await Task.Delay(50);
        }

        Assert.True(answered > 20);
        using var ready = await inference.GetAsync($"/v2/models/{model}/versions/2/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        using var production = await inference.GetAsync($"/v2/models/{model}/ready");
        Assert.Equal(HttpStatusCode.OK, production.StatusCode);
    }

    [Fact]
    public async Task A_version_recorded_under_a_former_storage_endpoint_still_loads_serves_and_downloads()
    {
        var admin = _flywheel.AdminGateway();
        var (model, predictor) = await ServingVersionOneAsync(admin, "moved", versions: 1);
        using var _ = predictor;
        var before = await ServingSetup.PredictAsync(predictor, model, [Instance]);

        // Version 2 is version 1's record as a platform that has since restarted sees it: a local
        // Azurite listens on a new port at every start, so the recorded URI names an endpoint that
        // is gone (port 1 here); the blob's path in the models container is unchanged.
        await using (var database = await _flywheel.OpenDatabaseAsync())
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO registry.model_versions (model, version, run_id, metrics, artifact_uri, artifact_sha256, artifact_bytes,
                    parity_max_abs_diff, parity_max_rel_diff, parity_rows, reference_profile, snapshot_id, snapshot_sha256, rows,
                    trainer, hyperparameters, seed, code_version, parent_version, trigger, split)
                SELECT model, 2, gen_random_uuid(), metrics, regexp_replace(artifact_uri, '^https?://[^/]+', 'http://127.0.0.1:1'),
                    artifact_sha256, artifact_bytes, parity_max_abs_diff, parity_max_rel_diff, parity_rows, reference_profile, snapshot_id,
                    snapshot_sha256, rows, trainer, hyperparameters, seed, code_version, 1, 'manual', split
                FROM registry.model_versions WHERE model = $1 AND version = 1
                RETURNING artifact_uri
                """, database);
            insert.Parameters.Add(new NpgsqlParameter { Value = model });
            Assert.StartsWith("http://127.0.0.1:1/", (string)(await insert.ExecuteScalarAsync())!);
        }

        // The registry hands out its bytes, verified by the same hash ...
        using (var download = await admin.GetAsync($"/api/models/{model}/versions/2/artifact"))
        {
            Assert.Equal(HttpStatusCode.OK, download.StatusCode);
            Assert.Equal(await admin.GetByteArrayAsync($"/api/models/{model}/versions/1/artifact"), await download.Content.ReadAsByteArrayAsync());
        }

        // ... and the worker loads and serves it, answering as version 1 did.
        await DeployAsync(admin, model, 2);
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 2);
        var after = await ServingSetup.PredictAsync(predictor, model, [Instance]);
        Assert.Equal(2, after.GetProperty("model_version").GetInt32());
        Assert.Equal(before.GetProperty("predictions")[0].GetProperty("score").GetDouble(), after.GetProperty("predictions")[0].GetProperty("score").GetDouble());
    }

    [Fact]
    public async Task With_the_cache_on_a_repeated_request_is_answered_from_redis_and_still_logged_with_its_own_id()
    {
        var admin = _flywheel.AdminGateway();
        var model = await TrainVersionsAsync(admin, "cache", versions: 1);
        using (var settings = await admin.PutAsJsonAsync($"/api/models/{model}/serving", new { cache_enabled = true, cache_ttl_seconds = 120 }))
        {
            Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
        }

        await DeployAsync(admin, model, 1);
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "cache-" + model, ["predictor"], [model]));
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);

        var instance = new { amount = 123.45, merchant_category = "fuel", is_online = false, hour = 9 };
        var first = await ServingSetup.PredictAsync(predictor, model, [instance]);
        var second = await ServingSetup.PredictAsync(predictor, model, [instance]);

        Assert.Equal(first.GetProperty("predictions")[0].GetProperty("score").GetDouble(), second.GetProperty("predictions")[0].GetProperty("score").GetDouble());
        var ids = new[] { first.GetProperty("prediction_ids")[0].GetGuid(), second.GetProperty("prediction_ids")[0].GetGuid() };
        Assert.NotEqual(ids[0], ids[1]);
        await using var database = await _flywheel.OpenDatabaseAsync();
        var logged = await ServingSetup.WaitForLoggedAsync(database, ids, TimeSpan.FromSeconds(60));
        Assert.False(logged[ids[0]].Outputs.TryGetProperty("cached", out _));
        Assert.True(logged[ids[1]].Outputs.GetProperty("cached").GetBoolean());
    }

    [Fact]
    public async Task Concurrent_requests_are_coalesced_into_one_model_call_up_to_the_models_batch_size()
    {
        var admin = _flywheel.AdminGateway();
        var model = await TrainVersionsAsync(admin, "batch", versions: 1);
        // A wait long enough that 32 simultaneous requests always find each other.
        using (var settings = await admin.PutAsJsonAsync($"/api/models/{model}/serving", new { max_batch_size = 8, max_batch_wait_ms = 50 }))
        {
            Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
        }

        await DeployAsync(admin, model, 1);
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "batch-" + model, ["predictor"], [model]));
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);

        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(i =>
            ServingSetup.PredictAsync(predictor, model, [new { amount = 10.0 + i, merchant_category = "fuel", is_online = i % 2 == 0, hour = i % 24 }])));
        var ids = answers.Select(a => a.GetProperty("prediction_ids")[0].GetGuid()).ToArray();

        await using var database = await _flywheel.OpenDatabaseAsync();
        await ServingSetup.WaitForLoggedAsync(database, ids, TimeSpan.FromSeconds(60));
        await using var sizes = new NpgsqlCommand("SELECT batch_size FROM inference.predictions WHERE prediction_id = ANY($1)", database);
        sizes.Parameters.Add(new NpgsqlParameter { Value = ids });
        var batchSizes = new List<int>();
        await using (var reader = await sizes.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                batchSizes.Add(reader.GetInt32(0));
            }
        }

        // Every call ran in a batch no larger than the model's limit, and most shared one.
        Assert.All(batchSizes, size => Assert.InRange(size, 1, 8));
        Assert.True(batchSizes.Count(size => size > 1) >= 16, $"batch sizes: {string.Join(",", batchSizes)}");
    }

    /// <summary>A fresh model with <paramref name="versions"/> trained versions (different seeds, so different models).</summary>
    private static async Task<string> TrainVersionsAsync(HttpClient admin, string prefix, int versions)
    {
        var model = await admin.DefineModelAsync(prefix, TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_500, seed: 31));
        for (var v = 1; v <= versions; v++)
        {
            var run = await TrainingData.WaitForRunAsync(admin,
                await TrainingData.StartRunAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 4 + (4 * v) }, seed = v }),
                TimeSpan.FromMinutes(5));
            Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
        }

        return model;
    }

    /// <summary>A fresh model with <paramref name="versions"/> trained versions, version 1 serving, and a predictor client for it.</summary>
    private async Task<(string Model, HttpClient Predictor)> ServingVersionOneAsync(HttpClient admin, string prefix, int versions)
    {
        var model = await TrainVersionsAsync(admin, prefix, versions);
        await DeployAsync(admin, model, 1);
        var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, prefix + "-" + model, ["predictor"], [model]));
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);
        return (model, predictor);
    }

    private static async Task DeployAsync(HttpClient admin, string model, int production)
    {
        using var response = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production, reason = "rollout test" });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }
}
