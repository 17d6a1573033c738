using System.Net.Http.Json;
using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>A run survives its trainer or its orchestrator dying mid-run, and finishes exactly once.</summary>
[Collection(SharedPlatform.Name)]
public sealed class TrainerCrashTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task Killing_the_trainer_mid_training_still_finishes_the_run_once_when_a_trainer_returns()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("crash", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(8_000, seed: 21));
        // Enough boosting rounds that training lasts several seconds: time to kill it in the middle.
        // (1,500 rounds took 2.6 s on a 2-core dev machine, and the news that training started takes
        // a few hundred ms to reach the test: too thin a margin on a faster machine.)
        var runId = await TrainingData.StartRunAsync(gateway, model,
            new { trainer = "lightgbm", hyperparameters = new { num_iterations = 3_000, num_leaves = 63 }, seed = 5 });

        var training = await TrainingData.WaitForRunAsync(gateway, runId, TimeSpan.FromMinutes(3),
            run => TrainingData.Step(run, "train") == "running" || run.GetProperty("state").GetString() is "succeeded" or "failed");
        Assert.Equal("running", TrainingData.Step(training, "train"));
        var pid = await _flywheel.KillServiceAsync(ResourceNames.Trainer);
        try
        {
            // Nothing finished it while no trainer was running.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var meanwhile = await gateway.GetFromJsonAsync<JsonElement>($"/api/training-runs/{runId}");
            Assert.Equal("running", meanwhile.GetProperty("state").GetString());
            Assert.Equal("running", TrainingData.Step(meanwhile, "train"));
        }
        finally
        {
            await _flywheel.RestartServiceAsync(ResourceNames.Trainer);
        }

        var finished = await TrainingData.WaitForRunAsync(gateway, runId, TimeSpan.FromMinutes(5));

        Assert.True(finished.GetProperty("state").GetString() == "succeeded", finished.ToString());
        Assert.NotEqual(pid, await _flywheel.ServiceProcessIdAsync(ResourceNames.Trainer));
        Assert.False(FlywheelApp.ProcessIsAlive(pid));
        Assert.Equal(1L, await VersionsAsync(model));
        Assert.Single(await ArtifactsAsync(model));
    }

    [Fact]
    public async Task Killing_the_orchestrator_mid_run_loses_nothing_the_run_resumes_from_its_stored_state_when_it_returns()
    {
        var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("orch", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(8_000, seed: 22));
        var runId = await TrainingData.StartRunAsync(gateway, model,
            new { trainer = "lightgbm", hyperparameters = new { num_iterations = 1_500, num_leaves = 63 }, seed = 6 });
        var training = await TrainingData.WaitForRunAsync(gateway, runId, TimeSpan.FromMinutes(3),
            run => TrainingData.Step(run, "train") == "running" || run.GetProperty("state").GetString() is "succeeded" or "failed");
        Assert.Equal("running", TrainingData.Step(training, "train"));

        await _flywheel.KillServiceAsync(ResourceNames.Orchestrator);
        try
        {
            // The trainer finishes its job while no orchestrator runs; its results wait in the broker.
            var deadline = DateTimeOffset.UtcNow + TimeSpan.FromMinutes(3);
            while ((await ArtifactsAsync(model)).Count == 0 && DateTimeOffset.UtcNow < deadline)
            {
                await Task.Delay(250);
            }

            Assert.Single(await ArtifactsAsync(model));
            var meanwhile = await gateway.GetFromJsonAsync<JsonElement>($"/api/training-runs/{runId}");
            Assert.Equal("running", meanwhile.GetProperty("state").GetString());
            Assert.Equal(0L, await VersionsAsync(model));
        }
        finally
        {
            await _flywheel.RestartServiceAsync(ResourceNames.Orchestrator);
        }

        var finished = await TrainingData.WaitForRunAsync(gateway, runId, TimeSpan.FromMinutes(5));

        Assert.True(finished.GetProperty("state").GetString() == "succeeded", finished.ToString());
        Assert.All(finished.GetProperty("steps").EnumerateArray(), s => Assert.Equal("succeeded", s.GetProperty("state").GetString()));
        Assert.Equal(1L, await VersionsAsync(model));
        Assert.Single(await ArtifactsAsync(model));
    }

    private async Task<long> VersionsAsync(string model)
    {
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var versions = new NpgsqlCommand("SELECT count(*) FROM registry.model_versions WHERE model = $1", database);
        versions.Parameters.Add(new NpgsqlParameter { Value = model });
        return (long)(await versions.ExecuteScalarAsync())!;
    }

    private async Task<List<string>> ArtifactsAsync(string model)
    {
        var blobs = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts));
        var artifacts = new List<string>();
        await foreach (var blob in blobs.GetBlobContainerClient(BlobContainers.Models)
            .GetBlobsAsync(BlobTraits.None, BlobStates.None, model + "/", CancellationToken.None))
        {
            artifacts.Add(blob.Name);
        }

        return artifacts;
    }
}
