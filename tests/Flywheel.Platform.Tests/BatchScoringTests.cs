using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Flywheel.Core.Ingestion;
using Microsoft.ML.OnnxRuntime;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>Batch predictions through the gateway: scored by a trainer, resumable, checked against ONNX Runtime in this process.</summary>
[Collection(SharedPlatform.Name)]
public sealed class BatchScoringTests(PlatformFixture fixture)
{
    private static readonly ConditionalWeakTable<FlywheelApp, Task<TrainedVersion>> Trained = [];
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(5);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task A_snapshot_scored_in_batch_matches_onnx_runtime_in_process_and_the_result_hashes_to_what_the_job_records()
    {
        var gateway = _flywheel.AdminGateway();
        var trained = await TrainedAsync(gateway);

        using var started = await gateway.PostAsJsonAsync($"/api/models/{trained.Model}/batch-predictions", new { version = 1, snapshot_id = trained.SnapshotId });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var jobId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetGuid();
        var job = await WaitForJobAsync(gateway, jobId);

        Assert.Equal("succeeded", job.GetProperty("state").GetString());
        Assert.Equal(trained.Rows, job.GetProperty("rows_total").GetInt64());
        Assert.Equal(trained.Rows, job.GetProperty("rows_done").GetInt64());
        var result = job.GetProperty("result");
        var content = await gateway.GetByteArrayAsync($"/api/batch-predictions/{jobId}/result");
        Assert.Equal(result.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(content)));
        Assert.Equal(result.GetProperty("bytes").GetInt64(), content.LongLength);
        Assert.EndsWith($"/{BlobContainers.Data}/batch-predictions/{jobId}/result.csv", result.GetProperty("uri").GetString());

        var (header, records) = ParseCsv(content);
        Assert.Equal(["amount", "merchant_category", "is_online", "hour", "prediction_label", "prediction_score"], header);
        Assert.Equal(trained.Rows, records.Count);

        // The first rows in snapshot order, scored here by ONNX Runtime on the artifact as stored.
        var firstRows = await SnapshotAmountsAsync(trained.SnapshotId, 20);
        Assert.Equal(firstRows, records.Take(20).Select(r => double.Parse(r[0], CultureInfo.InvariantCulture)).ToList());
        var expected = ScoreInProcess(trained.Onnx, records.Take(50).ToList());
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Probability, float.Parse(records[i][5], CultureInfo.InvariantCulture), 6);
            Assert.Equal(expected[i].Positive ? "true" : "false", records[i][4]);
        }
    }

    [Fact]
    public async Task An_uploaded_csv_with_a_bad_row_is_refused_with_its_line_and_field_and_nothing_is_queued()
    {
        var gateway = _flywheel.AdminGateway();
        var trained = await TrainedAsync(gateway);
        var csv = "amount,merchant_category,is_online,hour\n12.5,grocery,true,3\n40,travel,false,\n-3,fuel,true,22\n7,online,maybe,1\n";

        // The other tests of the class use the same model; count what this request adds.
        await using var connection = await _flywheel.OpenDatabaseAsync();
        var jobsBefore = await ScalarAsync(connection, "SELECT count(*) FROM registry.batch_predictions WHERE model = $1", trained.Model);
        var commandsBefore = await ScalarAsync(connection,
            "SELECT count(*) FROM registry.outbox WHERE message_type = 'Flywheel.Contracts.Serving.ScoreBatch' AND body->>'model' = $1", trained.Model);

        using var refused = await gateway.PostAsync($"/api/models/{trained.Model}/batch-predictions?version=1", new StringContent(csv, Encoding.UTF8, "text/csv"));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("line 4", problem.GetProperty("errors").GetProperty("amount")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("line 5", problem.GetProperty("errors").GetProperty("is_online")[0].GetString(), StringComparison.Ordinal);
        var rows = problem.GetProperty("rows").EnumerateArray().Select(r => (r.GetProperty("line").GetInt64(), r.GetProperty("field").GetString())).ToHashSet();
        Assert.Equal(new HashSet<(long, string?)> { (4, "amount"), (5, "is_online") }, rows);

        Assert.Equal(jobsBefore, await ScalarAsync(connection, "SELECT count(*) FROM registry.batch_predictions WHERE model = $1", trained.Model));
        Assert.Equal(commandsBefore, await ScalarAsync(connection,
            "SELECT count(*) FROM registry.outbox WHERE message_type = 'Flywheel.Contracts.Serving.ScoreBatch' AND body->>'model' = $1", trained.Model));

        // The same request for a version that does not exist, or without a key, is refused too.
        using var unknownVersion = await gateway.PostAsync($"/api/models/{trained.Model}/batch-predictions?version=9", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.BadRequest, unknownVersion.StatusCode);
        Assert.True((await unknownVersion.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("version", out _));
        using var anonymous = _flywheel.CreateClient(ResourceNames.Gateway);
        using var unauthenticated = await anonymous.PostAsJsonAsync($"/api/models/{trained.Model}/batch-predictions", new { version = 1, snapshot_id = trained.SnapshotId });
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
    }

    [Fact]
    public async Task Killing_the_trainer_mid_job_resumes_after_the_last_staged_chunk_and_the_result_holds_every_row_once()
    {
        var gateway = _flywheel.AdminGateway();
        var trained = await TrainedAsync(gateway);
        const int Rows = 300_000;
        var input = new StringBuilder("event_id,amount,merchant_category,is_online,hour\n");
        var random = new Random(17);
        string[] categories = ["grocery", "travel", "online", "fuel"];
        for (var i = 0; i < Rows; i++)
        {
            input.Append(CultureInfo.InvariantCulture,
                $"row-{i},{Math.Round(random.NextDouble() * 800, 2)},{categories[i % 4]},{(random.Next(2) == 1 ? "true" : "false")},{(i % 50 == 0 ? "" : random.Next(24))}\n");
        }

        using var started = await gateway.PostAsync($"/api/models/{trained.Model}/batch-predictions?version=1", new StringContent(input.ToString(), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var jobId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetGuid();

        var midway = await WaitForJobAsync(gateway, jobId, job => job.GetProperty("rows_done").GetInt64() > 0 || job.GetProperty("state").GetString() is "succeeded" or "failed", poll: 20);
        Assert.Equal("running", midway.GetProperty("state").GetString());
        var pid = await _flywheel.KillServiceAsync(ResourceNames.Trainer);
        long doneAtKill;
        try
        {
            doneAtKill = (await gateway.GetFromJsonAsync<JsonElement>($"/api/batch-predictions/{jobId}")).GetProperty("rows_done").GetInt64();
            Assert.InRange(doneAtKill, 1, Rows - 1);
            await Task.Delay(TimeSpan.FromSeconds(2));
            var meanwhile = await gateway.GetFromJsonAsync<JsonElement>($"/api/batch-predictions/{jobId}");
            Assert.Equal(("running", doneAtKill), (meanwhile.GetProperty("state").GetString(), meanwhile.GetProperty("rows_done").GetInt64()));
        }
        finally
        {
            await _flywheel.RestartServiceAsync(ResourceNames.Trainer);
        }

        // Resumed, not restarted: progress never falls back below what was done before the kill.
        var lowest = long.MaxValue;
        var job = await WaitForJobAsync(gateway, jobId, job =>
        {
            lowest = Math.Min(lowest, job.GetProperty("rows_done").GetInt64());
            return job.GetProperty("state").GetString() is "succeeded" or "failed";
        }, poll: 20);

        Assert.True(job.GetProperty("state").GetString() == "succeeded", job.ToString());
        Assert.True(lowest >= doneAtKill, $"progress fell back to {lowest} after {doneAtKill} rows were done: the job started over");
        Assert.NotEqual(pid, await _flywheel.ServiceProcessIdAsync(ResourceNames.Trainer));
        Assert.Equal((long)Rows, job.GetProperty("rows_total").GetInt64());
        var content = await gateway.GetByteArrayAsync($"/api/batch-predictions/{jobId}/result");
        Assert.Equal(job.GetProperty("result").GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(content)));
        var (header, records) = ParseCsv(content);
        Assert.Equal(["event_id", "amount", "merchant_category", "is_online", "hour", "prediction_label", "prediction_score"], header);
        Assert.Equal(Rows, records.Count);
        Assert.Equal(Enumerable.Range(0, Rows).Select(i => $"row-{i}"), records.Select(r => r[0]));
        Assert.All(records, r => Assert.InRange(float.Parse(r[6], CultureInfo.InvariantCulture), 0f, 1f));
    }

    [Fact]
    public async Task A_job_whose_artifact_does_not_hash_to_its_recorded_sha256_fails_with_the_reason_and_writes_no_result()
    {
        var gateway = _flywheel.AdminGateway();
        var trained = await TrainedAsync(gateway);
        var version = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{trained.Model}/versions/1");
        var artifact = version.GetProperty("artifact");
        var wrong = new string('0', 64);
        var jobId = Guid.CreateVersion7();

        // The command as the registry would write it, but naming a hash the stored bytes do not have.
        await using (var connection = await _flywheel.OpenDatabaseAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var job = new NpgsqlCommand(
                "INSERT INTO registry.batch_predictions (job_id, model, version, snapshot_id, requested_by) VALUES ($1, $2, 1, $3, 'tamper-test')", connection, transaction))
            {
                job.Parameters.Add(new NpgsqlParameter { Value = jobId });
                job.Parameters.Add(new NpgsqlParameter { Value = trained.Model });
                job.Parameters.Add(new NpgsqlParameter { Value = trained.SnapshotId });
                await job.ExecuteNonQueryAsync();
            }

            var body = JsonSerializer.Serialize(new
            {
                jobId,
                model = trained.Model,
                version = 1,
                artifact = new { uri = artifact.GetProperty("uri").GetString(), sha256 = wrong, bytes = artifact.GetProperty("bytes").GetInt64() },
                snapshotId = trained.SnapshotId,
                inputBlob = (string?)null,
            });
            await using (var command = new NpgsqlCommand(
                "INSERT INTO registry.outbox (message_type, body) VALUES ('Flywheel.Contracts.Serving.ScoreBatch', $1::jsonb)", connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = body });
                await command.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
        }

        var failed = await WaitForJobAsync(gateway, jobId);

        Assert.Equal("failed", failed.GetProperty("state").GetString());
        Assert.Contains($"not {wrong}", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.True(!failed.TryGetProperty("result", out var result) || result.ValueKind == JsonValueKind.Null, failed.ToString());
        using var download = await gateway.GetAsync($"/api/batch-predictions/{jobId}/result");
        Assert.Equal(HttpStatusCode.Conflict, download.StatusCode);
        var blobs = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts));
        Assert.False((await blobs.GetBlobContainerClient(BlobContainers.Data).GetBlobClient($"batch-predictions/{jobId}/result.csv").ExistsAsync()).Value);
    }

    [Fact]
    public async Task A_job_that_keeps_failing_past_its_retries_is_marked_failed_not_left_running()
    {
        var gateway = _flywheel.AdminGateway();
        var trained = await TrainedAsync(gateway);
        var artifact = (await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{trained.Model}/versions/1")).GetProperty("artifact");
        var jobId = Guid.CreateVersion7();
        var missing = $"batch-predictions/{jobId}/input.csv";

        // An upload job whose input is not in Blob (as if deleted after it was queued): every attempt fails the same way.
        await using (var connection = await _flywheel.OpenDatabaseAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var job = new NpgsqlCommand(
                "INSERT INTO registry.batch_predictions (job_id, model, version, input_blob, requested_by) VALUES ($1, $2, 1, $3, 'fault-test')", connection, transaction))
            {
                job.Parameters.Add(new NpgsqlParameter { Value = jobId });
                job.Parameters.Add(new NpgsqlParameter { Value = trained.Model });
                job.Parameters.Add(new NpgsqlParameter { Value = missing });
                await job.ExecuteNonQueryAsync();
            }

            var body = JsonSerializer.Serialize(new
            {
                jobId,
                model = trained.Model,
                version = 1,
                artifact = new { uri = artifact.GetProperty("uri").GetString(), sha256 = artifact.GetProperty("sha256").GetString(), bytes = artifact.GetProperty("bytes").GetInt64() },
                snapshotId = (Guid?)null,
                inputBlob = missing,
            });
            await using (var command = new NpgsqlCommand(
                "INSERT INTO registry.outbox (message_type, body) VALUES ('Flywheel.Contracts.Serving.ScoreBatch', $1::jsonb)", connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = body });
                await command.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
        }

        var failed = await WaitForJobAsync(gateway, jobId);

        Assert.Equal("failed", failed.GetProperty("state").GetString());
        Assert.StartsWith("scoring failed after retries", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private sealed record TrainedVersion(string Model, Guid SnapshotId, long Rows, byte[] Onnx);

    /// <summary>One trained model for the class: training is the slow part, and every test only reads it.</summary>
    private Task<TrainedVersion> TrainedAsync(HttpClient gateway)
    {
        lock (Trained)
        {
            if (!Trained.TryGetValue(_flywheel, out var trained))
            {
                trained = TrainAsync(gateway);
                Trained.Add(_flywheel, trained);
            }

            return trained;
        }
    }

    private async Task<TrainedVersion> TrainAsync(HttpClient gateway)
    {
        var model = await gateway.DefineModelAsync("batch", TrainingData.FraudModel);
        await TrainingData.UploadAsync(gateway, model, TrainingData.FraudCsv(3_000, seed: 31));
        var runId = await TrainingData.StartRunAsync(gateway, model, new { trainer = "lightgbm", hyperparameters = new { num_iterations = 300 }, seed = 9 });
        var run = await TrainingData.WaitForRunAsync(gateway, runId, JobTimeout);
        Assert.True(run.GetProperty("state").GetString() == "succeeded", run.ToString());
        var version = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/versions/1");
        var lineage = version.GetProperty("lineage");
        var sha256 = version.GetProperty("artifact").GetProperty("sha256").GetString()!;
        var blobs = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts));
        var onnx = (await blobs.GetBlobContainerClient(BlobContainers.Models).GetBlobClient($"{model}/{sha256}.onnx").DownloadContentAsync()).Value.Content.ToArray();
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(onnx)));
        return new TrainedVersion(model, lineage.GetProperty("snapshot_id").GetGuid(), lineage.GetProperty("rows").GetInt64(), onnx);
    }

    internal static async Task<JsonElement> WaitForJobAsync(HttpClient gateway, Guid jobId, Func<JsonElement, bool>? until = null, int poll = 200)
    {
        until ??= job => job.GetProperty("state").GetString() is "succeeded" or "failed";
        var deadline = DateTime.UtcNow + JobTimeout;
        JsonElement job = default;
        while (DateTime.UtcNow < deadline)
        {
            job = await gateway.GetFromJsonAsync<JsonElement>($"/api/batch-predictions/{jobId}");
            if (until(job))
            {
                return job;
            }

            await Task.Delay(poll);
        }

        Assert.Fail($"Batch job {jobId} did not get there within {JobTimeout}: {job}");
        return job;
    }

    private static (string[] Header, List<string[]> Records) ParseCsv(byte[] content)
    {
        using var reader = new StreamReader(new MemoryStream(content), Encoding.UTF8);
        var csv = new CsvRecordReader(reader);
        var header = csv.Read()!;
        var records = new List<string[]>();
        while (csv.Read() is { } record)
        {
            Assert.Equal(header.Length, record.Length);
            records.Add(record);
        }

        return (header, records);
    }

    /// <summary>P(fraud) and the predicted class from ONNX Runtime, fed as the ONNX contract says (numbers and booleans as float, NaN when missing).</summary>
    private static List<(float Probability, bool Positive)> ScoreInProcess(byte[] onnx, List<string[]> rows)
    {
        using var session = new InferenceSession(onnx);
        long[] shape = [rows.Count, 1];
        using var amount = OrtValue.CreateTensorValueFromMemory(rows.Select(r => Number(r[0])).ToArray(), shape);
        using var category = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        for (var i = 0; i < rows.Count; i++)
        {
            category.StringTensorSetElementAt(rows[i][1].AsSpan(), i);
        }

        using var online = OrtValue.CreateTensorValueFromMemory(rows.Select(r => r[2] == "true" ? 1f : 0f).ToArray(), shape);
        using var hour = OrtValue.CreateTensorValueFromMemory(rows.Select(r => Number(r[3])).ToArray(), shape);
        using var options = new RunOptions();
        using var results = session.Run(options, ["amount", "merchant_category", "is_online", "hour"], [amount, category, online, hour],
            ["Probability.output", "PredictedLabel.output"]);
        var probabilities = results[0].GetTensorDataAsSpan<float>().ToArray();
        var labels = results[1].GetTensorDataAsSpan<bool>().ToArray();
        return [.. probabilities.Zip(labels)];

        static float Number(string text) => text.Length == 0 ? float.NaN : (float)double.Parse(text, CultureInfo.InvariantCulture);
    }

    private async Task<List<double>> SnapshotAmountsAsync(Guid snapshotId, int count)
    {
        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT (features->>'amount')::double precision FROM registry.snapshot_rows WHERE snapshot_id = $1 ORDER BY ordinal LIMIT {count}", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = snapshotId });
        var amounts = new List<double>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            amounts.Add(reader.GetDouble(0));
        }

        return amounts;
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql, string parameter)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
