using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>From data to a registered, verified model version, through the real services and the bus.</summary>
[Collection(SharedPlatform.Name)]
public sealed class TrainingTests(PlatformFixture fixture)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task A_model_trained_from_an_upload_with_bad_rows_is_registered_with_its_lineage_metrics_parity_and_a_verified_artifact()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("fraud", TrainingData.FraudModel);
        var csv = TrainingData.FraudCsv(3_000, seed: 11).TrimEnd('\n').Split('\n').ToList();
        csv.Insert(101, "bad-1,2026-01-05T00:00:00Z,card-1,-5,grocery,true,3,0");        // line 102: amount below its minimum
        csv.Insert(201, "bad-2,2026-01-09T00:00:00Z,card-2,10,casino,false,4,1");        // line 202: unknown category
        csv.Insert(301, "bad-3,2026-01-13T00:00:00Z,card-3,10,fuel,maybe,25,0");         // line 302: not a boolean, hour out of range

        var report = await TrainingData.UploadAsync(gateway, model, string.Join('\n', csv) + "\n");

        Assert.Equal(3_000, report.GetProperty("accepted").GetInt64());
        Assert.Equal(3, report.GetProperty("rejected").GetInt64());
        var errors = report.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("line").GetInt64(), e.GetProperty("field").GetString())).ToHashSet();
        Assert.Equal(new HashSet<(long, string?)> { (102, "amount"), (202, "merchant_category"), (302, "is_online"), (302, "hour") }, errors);
        var listed = (await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/ingestions")).GetProperty("ingestions").EnumerateArray().Single();
        Assert.Equal(report.GetProperty("ingestion_id").GetGuid(), listed.GetProperty("ingestion_id").GetGuid());
        Assert.Equal((3_000L, 3L, "succeeded"), (listed.GetProperty("accepted").GetInt64(), listed.GetProperty("rejected").GetInt64(), listed.GetProperty("state").GetString()));

        var runId = await TrainingData.StartRunAsync(gateway, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 15 }, seed = 7 });
        var run = await TrainingData.WaitForRunAsync(gateway, runId, RunTimeout);

        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"the run did not succeed: {run}");
        string[] steps = ["snapshot", "split", "train", "evaluate", "export", "parity", "profile", "upload", "register"];
        Assert.Equal(steps, run.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToArray());
        Assert.All(run.GetProperty("steps").EnumerateArray(), s => Assert.Equal("succeeded", s.GetProperty("state").GetString()));
        Assert.Equal(1, run.GetProperty("version").GetInt32());

        var version = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1");
        var lineage = version.GetProperty("lineage");
        var snapshotId = lineage.GetProperty("snapshot_id").GetGuid();
        var snapshot = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/snapshots/{snapshotId}?verify=true");
        Assert.True(snapshot.GetProperty("verified").GetBoolean());
        Assert.Equal(snapshot.GetProperty("sha256").GetString(), lineage.GetProperty("snapshot_sha256").GetString());
        Assert.Equal(3_000, lineage.GetProperty("rows").GetInt64());
        Assert.Equal("lightgbm", lineage.GetProperty("trainer").GetString());
        Assert.Equal(15, lineage.GetProperty("hyperparameters").GetProperty("num_leaves").GetDouble());
        Assert.Equal(7, lineage.GetProperty("seed").GetInt32());
        Assert.Equal("manual", lineage.GetProperty("trigger").GetString());
        Assert.Equal(JsonValueKind.Null, lineage.GetProperty("parent_version").ValueKind);
        Assert.StartsWith("0.1.0", lineage.GetProperty("code_version").GetString());
        Assert.Equal("time", lineage.GetProperty("split").GetProperty("method").GetString());
        Assert.Equal(600, lineage.GetProperty("split").GetProperty("test_rows").GetInt64());

        var metrics = version.GetProperty("metrics");
        Assert.InRange(metrics.GetProperty("auc").GetDouble(), 0.7, 1.0);
        Assert.InRange(metrics.GetProperty("log_loss").GetDouble(), 0.0, 0.69);
        Assert.InRange(metrics.GetProperty("accuracy").GetDouble(), 0.5, 1.0);
        Assert.True(metrics.TryGetProperty("f1", out _) && metrics.TryGetProperty("ece", out _));
        Assert.InRange(version.GetProperty("parity").GetProperty("max_abs_diff").GetDouble(), 0.0, 1e-4);
        Assert.Equal(600, version.GetProperty("parity").GetProperty("rows").GetInt32());
        Assert.Equal(4, version.GetProperty("reference_profile").GetProperty("features").GetArrayLength());

        // The artifact in Blob (read directly, as an auditor would) and through the registry hash to what the version says.
        var artifact = version.GetProperty("artifact");
        var sha256 = artifact.GetProperty("sha256").GetString()!;
        var uri = artifact.GetProperty("uri").GetString()!;
        Assert.EndsWith($"/{BlobContainers.Models}/{model}/{sha256}.onnx", uri);
        var blobs = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts));
        var stored = (await blobs.GetBlobContainerClient(BlobContainers.Models).GetBlobClient($"{model}/{sha256}.onnx").DownloadContentAsync()).Value.Content.ToArray();
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(stored)));
        Assert.Equal(artifact.GetProperty("bytes").GetInt64(), stored.LongLength);
        using var download = await gateway.GetAsync($"/api/models/{model}/versions/1/artifact");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(sha256, download.Headers.GetValues("X-Content-SHA256").Single());
        Assert.Equal(stored, await download.Content.ReadAsByteArrayAsync());

        // A version cannot be changed after the fact, even by someone with the database's keys.
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var tamper = new NpgsqlCommand("UPDATE registry.model_versions SET artifact_sha256 = 'x' WHERE model = $1", database);
        tamper.Parameters.Add(new NpgsqlParameter { Value = model });
        var refused = await Assert.ThrowsAsync<PostgresException>(() => tamper.ExecuteNonQueryAsync());
        Assert.Contains("model versions are immutable", refused.MessageText);
    }

    [Fact]
    public async Task Retraining_with_the_same_data_trainer_hyperparameters_and_seed_gives_the_same_artifact_hash_and_a_changed_hyperparameter_does_not()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("repro", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(1_500, seed: 5));
        var request = new { trainer = "fasttree", hyperparameters = new { num_trees = 40 }, seed = 3 };

        var first = await TrainingData.WaitForRunAsync(gateway, await TrainingData.StartRunAsync(gateway, model, request), RunTimeout);
        var second = await TrainingData.WaitForRunAsync(gateway, await TrainingData.StartRunAsync(gateway, model, request), RunTimeout);
        var other = await TrainingData.WaitForRunAsync(gateway, await TrainingData.StartRunAsync(gateway, model, new { trainer = "fasttree", hyperparameters = new { num_trees = 41 }, seed = 3 }), RunTimeout);

        Assert.All(new[] { first, second, other }, run => Assert.True(run.GetProperty("state").GetString() == "succeeded", run.ToString()));
        var v1 = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1");
        var v2 = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/2");
        var v3 = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/3");
        Assert.NotEqual(v1.GetProperty("lineage").GetProperty("snapshot_id").GetGuid(), v2.GetProperty("lineage").GetProperty("snapshot_id").GetGuid());
        Assert.Equal(v1.GetProperty("lineage").GetProperty("snapshot_sha256").GetString(), v2.GetProperty("lineage").GetProperty("snapshot_sha256").GetString());
        Assert.Equal(v1.GetProperty("artifact").GetProperty("sha256").GetString(), v2.GetProperty("artifact").GetProperty("sha256").GetString());
        Assert.Equal(1, v2.GetProperty("lineage").GetProperty("parent_version").GetInt32());
        Assert.NotEqual(v1.GetProperty("artifact").GetProperty("sha256").GetString(), v3.GetProperty("artifact").GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task A_search_runs_its_trials_and_trains_the_best_candidate()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("search", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(1_200, seed: 9));

        var run = await TrainingData.WaitForRunAsync(gateway,
            await TrainingData.StartRunAsync(gateway, model, new { trainer = "auto", search = new { trials = 4 }, seed = 1 }), RunTimeout);

        Assert.True(run.GetProperty("state").GetString() == "succeeded", run.ToString());
        var trials = run.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(4, trials.Count);
        var best = trials.Where(t => t.GetProperty("value").ValueKind == JsonValueKind.Number).MaxBy(t => t.GetProperty("value").GetDouble());
        Assert.Equal(best.GetProperty("trainer").GetString(), run.GetProperty("trainer").GetString());
        Assert.Equal("succeeded", TrainingData.Step(run, "search"));
        var version = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1");
        Assert.Equal(best.GetProperty("trainer").GetString(), version.GetProperty("lineage").GetProperty("trainer").GetString());
    }

    [Fact]
    public async Task A_job_that_keeps_failing_fails_its_run_after_bounded_retries_without_blocking_other_runs_or_overwriting_an_artifact()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("poison", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(1_000, seed: 13));
        var request = new { trainer = "sdca", seed = 8 };
        var first = await TrainingData.WaitForRunAsync(gateway, await TrainingData.StartRunAsync(gateway, model, request), RunTimeout);
        Assert.True(first.GetProperty("state").GetString() == "succeeded", first.ToString());
        var sha256 = (await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1")).GetProperty("artifact").GetProperty("sha256").GetString()!;

        // Someone with storage keys replaces the artifact's bytes. Retraining the same inputs reaches the same
        // content address and finds bytes that do not hash to it: every attempt fails, and nothing may overwrite it.
        var blobs = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts));
        var blob = blobs.GetBlobContainerClient(BlobContainers.Models).GetBlobClient($"{model}/{sha256}.onnx");
        byte[] tampered = [.. Encoding.UTF8.GetBytes("not the model")];
        await blob.UploadAsync(BinaryData.FromBytes(tampered), overwrite: true);
        var poisoned = await TrainingData.StartRunAsync(gateway, model, request);
        var other = await gateway.DefineModelAsync("healthy", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, other, TrainingData.FraudCsv(1_000, seed: 14));
        var healthy = await TrainingData.StartRunAsync(gateway, other, new { trainer = "sdca", seed = 1 });

        var failed = await TrainingData.WaitForRunAsync(gateway, poisoned, RunTimeout);
        var succeeded = await TrainingData.WaitForRunAsync(gateway, healthy, RunTimeout);

        Assert.Equal("failed", failed.GetProperty("state").GetString());
        Assert.Equal("failed", TrainingData.Step(failed, "upload"));
        Assert.Contains("refusing to overwrite", failed.GetProperty("error").GetString());
        Assert.Equal("succeeded", succeeded.GetProperty("state").GetString());
        Assert.Equal(tampered, (await blob.DownloadContentAsync()).Value.Content.ToArray());
        using var versions = await gateway.GetAsync($"/api/models/{model}/versions");
        Assert.Equal(1, (await versions.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("versions").GetArrayLength());
    }

    [Fact]
    public async Task A_run_over_too_few_rows_fails_at_its_snapshot_with_the_reason()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("tiny", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(4, seed: 2));

        var run = await TrainingData.WaitForRunAsync(gateway, await TrainingData.StartRunAsync(gateway, model, new { }), RunTimeout);

        Assert.Equal("failed", run.GetProperty("state").GetString());
        Assert.Equal("failed", TrainingData.Step(run, "snapshot"));
        Assert.Contains("4 labelled rows", run.GetProperty("error").GetString());
        using var versions = await gateway.GetAsync($"/api/models/{model}/versions");
        Assert.Equal(0, (await versions.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("versions").GetArrayLength());
    }

    [Fact]
    public async Task A_bad_training_request_is_refused_with_the_fields_at_fault()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("badrun", TrainingData.FraudModel);

        using var response = await gateway.PostAsJsonAsync($"/api/models/{model}/training-runs",
            new { trainer = "xgboost", search = new { trials = 1_000 }, data = new { from = "2026-02-01T00:00:00Z", to = "2026-01-01T00:00:00Z" } });
        using var badHyperparameters = await gateway.PostAsJsonAsync($"/api/models/{model}/training-runs",
            new { trainer = "lightgbm", hyperparameters = new { num_leaves = 1, max_depth = 4 } });
        using var anonymous = _flywheel.CreateClient(ResourceNames.Gateway);
        using var unauthorised = await anonymous.PostAsJsonAsync($"/api/models/{model}/training-runs", new { });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Equal(new HashSet<string> { "trainer", "search.trials", "data.from" }, fields);
        Assert.Equal(HttpStatusCode.BadRequest, badHyperparameters.StatusCode);
        var hyperparameterFields = (await badHyperparameters.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Equal(new HashSet<string> { "hyperparameters.num_leaves", "hyperparameters.max_depth" }, hyperparameterFields);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorised.StatusCode);
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM registry.training_requests WHERE model = $1", database);
        count.Parameters.Add(new NpgsqlParameter { Value = model });
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_snapshot_joins_each_label_with_the_features_its_entity_had_at_the_labels_time_never_later_ones()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("pit", TrainingData.FraudModel);
        // Card c-1 changes over time; its labels arrive separately. Card c-2 is only seen after its label.
        await TrainingData.UploadAsync(gateway, model, """
            event_id,event_time,entity_id,amount,merchant_category,is_online,hour
            f1,2026-03-01T10:00:00Z,c-1,10,grocery,false,10
            f2,2026-03-01T12:00:00Z,c-1,20,travel,true,12
            f3,2026-03-01T14:00:00Z,c-1,30,online,true,14
            f4,2026-03-01T15:00:00Z,c-2,99,fuel,false,15

            """);
        using var labels = await gateway.PostAsJsonAsync($"/api/models/{model}/labels", new object[]
        {
            new { entity_id = "c-1", event_time = "2026-03-01T09:00:00Z", is_fraud = true },   // before any features: left out
            new { entity_id = "c-1", event_time = "2026-03-01T11:30:00Z", is_fraud = false },  // sees f1, not f2
            new { entity_id = "c-1", event_time = "2026-03-01T12:00:00Z", is_fraud = true },   // exactly at f2: sees f2
            new { entity_id = "c-1", event_time = "2026-03-01T13:59:59Z", is_fraud = false },  // still f2, not f3
            new { entity_id = "c-2", event_time = "2026-03-01T14:00:00Z", is_fraud = true },   // c-2's only features come later: left out
        });
        Assert.Equal(HttpStatusCode.OK, labels.StatusCode);

        using var created = await gateway.PostAsJsonAsync($"/api/models/{model}/snapshots", new { });
        var snapshot = await created.Content.ReadFromJsonAsync<JsonElement>();
        var rows = await gateway.GetFromJsonAsync<JsonElement>(
            $"/api/models/{model}/snapshots/{snapshot.GetProperty("snapshot_id").GetString()}/rows?limit=100");

        Assert.Equal(3, snapshot.GetProperty("labels_joined").GetInt64());
        Assert.Equal(2, snapshot.GetProperty("labels_unmatched").GetInt64());
        var joined = rows.GetProperty("rows").EnumerateArray()
            .Select(r => (r.GetProperty("event_time").GetDateTimeOffset(), r.GetProperty("features").GetProperty("amount").GetDouble(), r.GetProperty("target").GetBoolean()))
            .ToList();
        Assert.Equal(
            [
                (DateTimeOffset.Parse("2026-03-01T11:30:00Z"), 10.0, false),
                (DateTimeOffset.Parse("2026-03-01T12:00:00Z"), 20.0, true),
                (DateTimeOffset.Parse("2026-03-01T13:59:59Z"), 20.0, false),
            ],
            joined);
    }

    [Fact]
    public async Task A_batch_of_labels_with_a_bad_one_is_refused_whole_with_each_position_and_field()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("labels", TrainingData.FraudModel);

        using var response = await gateway.PostAsJsonAsync($"/api/models/{model}/labels", new object[]
        {
            new { entity_id = "c-1", event_time = "2026-03-01T09:00:00Z", is_fraud = true },
            new { entity_id = "c-1", event_time = "yesterday", is_fraud = "perhaps" },
            // An entity id is a string, as predict and uploads take it; the label may be "1", as feedback's may.
            new { entity_id = (object)17, event_time = "2026-03-01T09:00:00Z", is_fraud = "1" },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Equal(new HashSet<string> { "[2].event_time", "[2].is_fraud", "[3].entity_id" }, fields);
        Assert.Equal("must be a string, not the number 17.", problem.GetProperty("errors").GetProperty("[3].entity_id")[0].GetString());
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM registry.labels WHERE model = $1", database);
        count.Parameters.Add(new NpgsqlParameter { Value = model });
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }
}
