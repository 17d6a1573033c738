using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Flywheel.Platform.Tests;

/// <summary>A learnable card-fraud-like data set and the calls that train on it.</summary>
internal static class TrainingData
{
    public const string FraudModel = """
        { "name": "{name}", "task": "binary", "entity_key": "card_id",
          "features": [ { "name": "amount", "type": "numeric", "min": 0 },
                        { "name": "merchant_category", "type": "categorical", "categories": ["grocery", "travel", "online", "fuel"] },
                        { "name": "is_online", "type": "boolean" },
                        { "name": "hour", "type": "numeric", "nullable": true, "min": 0, "max": 23 } ],
          "target": { "name": "is_fraud", "type": "boolean" } }
        """;

    private static readonly string[] Categories = ["grocery", "travel", "online", "fuel"];

    /// <summary>
    /// <paramref name="rows"/> labelled rows an hour apart, fraud driven by amount, category,
    /// channel and night hours (so a model can learn it), a few rows without an hour.
    /// </summary>
    public static string FraudCsv(int rows, int seed, DateTimeOffset? start = null)
    {
        var random = new Random(seed);
        var time = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var csv = new StringBuilder("event_id,event_time,entity_id,amount,merchant_category,is_online,hour,is_fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var amount = Math.Round(random.NextDouble() * random.NextDouble() * 900, 2);
            var category = Categories[random.Next(Categories.Length)];
            var online = random.NextDouble() < 0.4;
            int? hour = random.NextDouble() < 0.05 ? null : random.Next(24);
            var logit = -3.0 + (amount / 250) + (category == "online" ? 1.2 : 0) + (online ? 0.8 : 0) + (hour is < 5 ? 1.0 : 0);
            var fraud = random.NextDouble() < 1 / (1 + Math.Exp(-logit));
            csv.Append(CultureInfo.InvariantCulture,
                $"{seed}-{i},{time.AddHours(i):O},card-{random.Next(500)},{amount},{category},{(online ? "true" : "false")},{hour},{(fraud ? 1 : 0)}\n");
        }

        return csv.ToString();
    }

    public static async Task<JsonElement> UploadAsync(HttpClient gateway, string model, string csv)
    {
        using var response = await gateway.PostAsync($"/api/models/{model}/data", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static async Task<Guid> StartRunAsync(HttpClient gateway, string model, object request)
    {
        using var response = await gateway.PostAsJsonAsync($"/api/models/{model}/training-runs", request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        return accepted.GetProperty("run_id").GetGuid();
    }

    /// <summary>Polls a run until it has finished (or <paramref name="until"/> holds), failing the test with the run's last state on timeout.</summary>
    public static async Task<JsonElement> WaitForRunAsync(HttpClient gateway, Guid runId, TimeSpan timeout, Func<JsonElement, bool>? until = null)
    {
        until ??= run => run.GetProperty("state").GetString() is "succeeded" or "failed";
        var deadline = DateTimeOffset.UtcNow + timeout;
        JsonElement run = default;
        while (DateTimeOffset.UtcNow < deadline)
        {
            using var response = await gateway.GetAsync($"/api/training-runs/{runId}");
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                // A run the orchestrator decided on travels to the registry through its outbox: it is
                // announced (a retraining decision names it) a moment before the registry has it.
                await Task.Delay(100);
                continue;
            }

            response.EnsureSuccessStatusCode();
            run = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (until(run))
            {
                return run;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Training run {runId} did not get there within {timeout}: {run}");
        return run;
    }

    /// <summary>
    /// A model with v1 deployed and a rollout of v2 just started: what a console test needs to act on
    /// (approve, reject, look). Returns the model's name and the rollout's id.
    /// </summary>
    public static async Task<(string Model, Guid RolloutId)> ModelWithRolloutAsync(HttpClient admin, string prefix, int dataSeed)
    {
        var model = await admin.DefineModelAsync(prefix, FraudModel);
        await UploadAsync(admin, model, FraudCsv(800, seed: dataSeed));
        await TrainOrFailAsync(admin, model, new { trainer = "sdca", seed = 1 });
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "first version" }))
        {
            Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
        }

        await TrainOrFailAsync(admin, model, new { trainer = "sdca", seed = 2 });
        using var started = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts", new { version = 2 });
        Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync());
        return (model, (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rollout_id").GetGuid());
    }

    private static async Task TrainOrFailAsync(HttpClient admin, string model, object request)
    {
        var run = await WaitForRunAsync(admin, await StartRunAsync(admin, model, request), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
    }

    public static string Step(JsonElement run, string name) =>
        run.GetProperty("steps").EnumerateArray().FirstOrDefault(s => s.GetProperty("name").GetString() == name) is { ValueKind: JsonValueKind.Object } step
            ? step.GetProperty("state").GetString()!
            : "absent";
}
