using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Flywheel.Core.Serving;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Platform.Tests;

/// <summary>
/// A model whose categorical feature is PII, end to end through the gateway: the trained artifact
/// holds none of the feature's values and says its input is a bucket; the workers serve it by
/// bucket (the category's learned effect shows in the answers), and batch scoring of the same rows
/// answers exactly as the workers do.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class PiiFeatureTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task A_pii_category_is_trained_and_served_as_buckets_and_its_values_stay_out_of_the_artifact()
    {
        using var admin = _flywheel.AdminGateway();
        var definition = TrainingData.FraudModel.Replace(
            "\"categories\": [\"grocery\", \"travel\", \"online\", \"fuel\"] }", "\"pii\": true }", StringComparison.Ordinal);
        Assert.Contains("\"pii\": true", definition, StringComparison.Ordinal);
        var model = await admin.DefineModelAsync("pii", definition);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(2_000, seed: 21));
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, new { trainer = "lightgbm", seed = 5 }), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");

        // The artifact as anyone with read access downloads it.
        var artifact = await admin.GetByteArrayAsync($"/api/models/{model}/versions/1/artifact");
        var text = Encoding.UTF8.GetString(artifact).Replace("is_online", "", StringComparison.Ordinal);
        Assert.All(new[] { "grocery", "travel", "online", "fuel" }, value => Assert.DoesNotContain(value, text, StringComparison.Ordinal));
        Assert.Contains(FeatureValues.PiiBucket("online"), text, StringComparison.Ordinal);
        using (var session = new InferenceSession(artifact))
        {
            Assert.Equal("[\"merchant_category\"]", session.ModelMetadata.CustomMetadataMap[OnnxModelContract.PiiBucketsMetadata]);
        }

        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "pii tests" }))
        {
            Assert.Equal(HttpStatusCode.OK, deployed.StatusCode);
        }

        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, "pii-predictor-" + model, ["predictor"], [model], requestsPerSecond: 100_000));
        await ServingSetup.WaitUntilServingAsync(predictor, model, version: 1);
        string[] categories = ["online", "grocery", "travel", "fuel", "never-seen"];
        var answer = await ServingSetup.PredictAsync(predictor, model,
            categories.Select(category => new { amount = 120.0, merchant_category = category, is_online = false, hour = 14 }));
        var online = answer.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("score").GetDouble()).ToArray();

        // The workers fed the model each category's bucket: ONNX Runtime here, fed the buckets, gives
        // the same answers, and the buckets carry what the model learned of the categories ("online"
        // raises the odds in TrainingData.FraudCsv). Fed the values, it finds every one unseen.
        var byBucket = ScoreInProcess(artifact, categories.Select(FeatureValues.PiiBucket));
        var byValue = ScoreInProcess(artifact, categories);
        for (var i = 0; i < online.Length; i++)
        {
            Assert.Equal(byBucket[i], online[i], 6);
        }

        Assert.True(byBucket[0] > byBucket[1], $"online {byBucket[0]:F4}, grocery {byBucket[1]:F4}");
        Assert.Single(byValue.Distinct());

        // The same rows scored in batch by the trainer: the same bucketing, the same answers.
        var csv = new StringBuilder("amount,merchant_category,is_online,hour\n");
        foreach (var category in categories)
        {
            csv.Append(CultureInfo.InvariantCulture, $"120,{category},false,14\n");
        }

        using var started = await admin.PostAsync($"/api/models/{model}/batch-predictions?version=1", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var jobId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetGuid();
        var job = await BatchScoringTests.WaitForJobAsync(admin, jobId);
        Assert.Equal("succeeded", job.GetProperty("state").GetString());
        var lines = Encoding.UTF8.GetString(await admin.GetByteArrayAsync($"/api/batch-predictions/{jobId}/result")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var scoreColumn = Array.IndexOf(lines[0].Split(','), "prediction_score");
        var batch = lines.Skip(1).Select(line => double.Parse(line.Split(',')[scoreColumn], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(online.Length, batch.Length);
        for (var i = 0; i < online.Length; i++)
        {
            Assert.Equal(online[i], batch[i], 6);
        }
    }

    /// <summary>P(fraud) from ONNX Runtime for rows that differ only in the <c>merchant_category</c> input.</summary>
    private static float[] ScoreInProcess(byte[] onnx, IEnumerable<string> categories)
    {
        string[] inputs = [.. categories];
        long[] shape = [inputs.Length, 1];
        using var session = new InferenceSession(onnx);
        using var amount = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(120f, inputs.Length).ToArray(), shape);
        using var category = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        for (var i = 0; i < inputs.Length; i++)
        {
            category.StringTensorSetElementAt(inputs[i].AsSpan(), i);
        }

        using var channel = OrtValue.CreateTensorValueFromMemory(new float[inputs.Length], shape);
        using var hour = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(14f, inputs.Length).ToArray(), shape);
        using var options = new RunOptions();
        using var results = session.Run(options, ["amount", "merchant_category", "is_online", "hour"], [amount, category, channel, hour], ["Probability.output"]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
