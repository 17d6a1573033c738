using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// A viewer key through the gateway: it reads what an operator reads (the audit log, the
/// prediction log, itself) and every change it tries, on the registry, the drift monitor and the
/// data plane, is refused with 403 ProblemDetails and leaves the store as it was.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class ViewerRoleTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    /// <summary>A change a viewer tries: the route as the registry's OpenAPI document names it, and the concrete request.</summary>
    private sealed record Change(string Method, string Template, string Path, HttpContent? Body);

    [Fact]
    public async Task A_viewer_reads_the_audit_log_predictions_and_itself_and_every_change_anywhere_is_refused_and_changes_nothing()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("viewer", TrainingData.FraudModel);
        await TrainingData.UploadAsync(admin, model, TrainingData.FraudCsv(1_500, seed: 31));
        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 8 }, seed = 1 });
        using (var deployed = await admin.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "first version" }))
        {
            Assert.True(deployed.StatusCode == HttpStatusCode.OK, await deployed.Content.ReadAsStringAsync());
        }

        await TrainAsync(admin, model, new { trainer = "lightgbm", hyperparameters = new { num_leaves = 12 }, seed = 2 });
        using (var policy = await admin.PutAsJsonAsync($"/api/models/{model}/policy", new { require_approval = true, rollout = new { shadow_minutes = 60 } }))
        {
            Assert.True(policy.StatusCode == HttpStatusCode.OK, await policy.Content.ReadAsStringAsync());
        }

        // A rollout in progress that an operator could reject: v2 shadows for an hour.
        Guid rolloutId;
        using (var started = await admin.PostAsJsonAsync($"/api/models/{model}/rollouts", new { version = 2 }))
        {
            Assert.True(started.StatusCode == HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
            rolloutId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rollout_id").GetGuid();
        }

        await WaitUntilAsync(async () =>
            (await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment")).TryGetProperty("shadow", out var shadow) &&
            shadow.ValueKind == JsonValueKind.Object && shadow.GetProperty("version").GetInt32() == 2 &&
            (await RolloutStateAsync(admin, model, rolloutId)) == "shadowing");
        Guid snapshotId;
        using (var snapshot = await admin.PostAsJsonAsync($"/api/models/{model}/snapshots", new { }))
        {
            Assert.True(snapshot.IsSuccessStatusCode, await snapshot.Content.ReadAsStringAsync());
            snapshotId = (await snapshot.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("snapshot_id").GetGuid();
        }

        var viewerName = "viewer-" + Guid.NewGuid().ToString("N")[..8];
        using var viewer = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, viewerName, ["viewer"], null));

        // Reads: itself, the audit log and the prediction log (an unknown id is not found, not forbidden).
        var me = await viewer.GetFromJsonAsync<JsonElement>("/api/keys/me");
        Assert.Equal(viewerName, me.GetProperty("name").GetString());
        Assert.Equal(["viewer"], me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        var viewerId = me.GetProperty("id").GetGuid();
        var audit = await viewer.GetFromJsonAsync<JsonElement>($"/api/audit?model={model}");
        Assert.Contains(audit.GetProperty("entries").EnumerateArray(), e => e.GetProperty("action").GetString() == "model.created");
        using (var unknown = await viewer.GetAsync($"/api/predictions/{Guid.CreateVersion7()}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        using (var noJob = await viewer.GetAsync($"/api/batch-predictions/{Guid.CreateVersion7()}/result"))
        {
            Assert.Equal(HttpStatusCode.NotFound, noJob.StatusCode);
        }

        // The key list stays admin-only: it is not a read an operator has.
        using (var list = await viewer.GetAsync("/api/keys"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
        }

        var before = await StateAsync(admin, model, rolloutId);
        await using var database = await _flywheel.OpenDatabaseAsync();
        var rowsBefore = await RowCountsAsync(database, model);

        Change[] registry =
        [
            new("POST", "/api/models", "/api/models", Json(new { name = "by-viewer-" + model, task = "binary", features = new[] { new { name = "x", type = "numeric" } }, target = new { name = "y", type = "boolean" } })),
            new("POST", "/api/models/{model}/data", $"/api/models/{model}/data", new StringContent(TrainingData.FraudCsv(5, seed: 99), Encoding.UTF8, "text/csv")),
            new("POST", "/api/models/{model}/events", $"/api/models/{model}/events", Json(new { event_id = "v1", entity_id = "card-1", amount = 1.0 })),
            new("POST", "/api/models/{model}/labels", $"/api/models/{model}/labels", Json(new[] { new { event_id = "31-0", is_fraud = true } })),
            new("POST", "/api/models/{model}/snapshots", $"/api/models/{model}/snapshots", Json(new { })),
            new("POST", "/api/models/{model}/training-runs", $"/api/models/{model}/training-runs", Json(new { trainer = "sdca" })),
            new("PUT", "/api/models/{model}/deployment", $"/api/models/{model}/deployment", Json(new { production = 2, reason = "viewer" })),
            new("POST", "/api/models/{model}/rollback", $"/api/models/{model}/rollback", Json(new { reason = "viewer" })),
            new("PUT", "/api/models/{model}/serving", $"/api/models/{model}/serving", Json(new { max_batch_size = 8 })),
            new("PUT", "/api/models/{model}/policy", $"/api/models/{model}/policy", Json(new { require_approval = false })),
            new("POST", "/api/models/{model}/retrain", $"/api/models/{model}/retrain", Json(new { reason = "viewer" })),
            new("POST", "/api/models/{model}/rollouts", $"/api/models/{model}/rollouts", Json(new { version = 2 })),
            new("POST", "/api/models/{model}/rollouts/{rolloutId}/approve", $"/api/models/{model}/rollouts/{rolloutId}/approve", Json(new { reason = "viewer" })),
            new("POST", "/api/models/{model}/rollouts/{rolloutId}/reject", $"/api/models/{model}/rollouts/{rolloutId}/reject", Json(new { reason = "viewer" })),
            new("POST", "/api/models/{model}/batch-predictions", $"/api/models/{model}/batch-predictions", Json(new { version = 1, snapshot_id = snapshotId })),
            new("POST", "/api/keys", "/api/keys", Json(new { name = "by-viewer", roles = new[] { "admin" } })),
            new("DELETE", "/api/keys/{id}", $"/api/keys/{viewerId}", null),
        ];
        Change[] monitor =
        [
            new("PUT", "/api/models/{model}/monitoring/policy", $"/api/models/{model}/monitoring/policy", Json(new { enabled = false })),
            new("POST", "/api/models/{model}/drift/evaluate", $"/api/models/{model}/drift/evaluate", Json(new { })),
        ];

        // Every change the registry maps is tried: a new one without a case here fails this test.
        var document = await admin.GetFromJsonAsync<JsonElement>("/api/openapi/v1.json");
        var mapped = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => $"{operation.Name.ToUpperInvariant()} {path.Name.TrimEnd('/')}"))
            .Where(operation => !operation.StartsWith("GET ", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        Assert.Equal(mapped, registry.Select(c => $"{c.Method} {c.Template}").Order(StringComparer.Ordinal));

        foreach (var change in registry.Concat(monitor))
        {
            using var request = new HttpRequestMessage(new HttpMethod(change.Method), change.Path) { Content = change.Body };
            using var response = await viewer.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{change.Method} {change.Path}: {(int)response.StatusCode} {body}");
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{change.Method} {change.Path}: {body}");
            Assert.Equal(403, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
        }

        // The data plane: a viewer may not predict, infer or send feedback.
        string[] dataPlane = [$"/v1/models/{model}:predict", $"/v2/models/{model}/infer", $"/v1/models/{model}/feedback"];
        foreach (var path in dataPlane)
        {
            using var response = await viewer.PostAsJsonAsync(path, new { instances = new[] { new { amount = 1.0, merchant_category = "fuel", is_online = false, hour = 1 } } });
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        // Nothing changed: the deployment, the policies, the rollout, the rows, and no audit entry names the viewer.
        Assert.Equal(before, await StateAsync(admin, model, rolloutId));
        Assert.Equal(rowsBefore, await RowCountsAsync(database, model));
        await using (var byViewer = new NpgsqlCommand("SELECT count(*) FROM registry.audit_log WHERE actor = $1", database))
        {
            byViewer.Parameters.Add(new NpgsqlParameter { Value = viewerName });
            Assert.Equal(0L, await byViewer.ExecuteScalarAsync());
        }

        await using (var stillLive = new NpgsqlCommand("SELECT revoked_at IS NULL FROM registry.api_keys WHERE id = $1", database))
        {
            stillLive.Parameters.Add(new NpgsqlParameter { Value = viewerId });
            Assert.Equal(true, await stillLive.ExecuteScalarAsync());
        }

        // The audit log shows the admin's changes to a viewer, not anything by it.
        var after = await viewer.GetFromJsonAsync<JsonElement>($"/api/audit?model={model}");
        Assert.DoesNotContain(after.GetProperty("entries").EnumerateArray(), e => e.GetProperty("actor").GetString() == viewerName);
    }

    [Theory]
    [InlineData("""{ "name": "v", "roles": ["viewer"], "models": ["x"] }""", "models", "no predictor role")]
    [InlineData("""{ "name": "v", "roles": ["root"] }""", "roles[0]", "admin, operator, predictor or viewer")]
    [InlineData("""{ "name": "v" }""", "roles", "admin, operator, predictor, viewer")]
    public async Task A_viewer_key_names_no_models_and_the_roles_message_lists_viewer(string body, string field, string message)
    {
        using var admin = _flywheel.AdminGateway();

        using var response = await admin.PostAsync("/api/keys", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem);
        var messages = JsonDocument.Parse(problem).RootElement.GetProperty("errors").GetProperty(field).EnumerateArray().Select(m => m.GetString()!);
        Assert.Contains(messages, m => m.Contains(message, StringComparison.Ordinal));
    }

    private static StringContent Json(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    /// <summary>What a viewer's changes would alter, as the API shows it: deployment, policies, serving settings, the rollout.</summary>
    private static async Task<string> StateAsync(HttpClient admin, string model, Guid rolloutId)
    {
        var parts = new List<string>();
        foreach (var path in new[]
        {
            $"/api/models/{model}/deployment", $"/api/models/{model}/policy", $"/api/models/{model}/serving",
            $"/api/models/{model}/monitoring/policy", $"/api/models/{model}/rollouts/{rolloutId}", $"/api/models/{model}/versions",
        })
        {
            parts.Add(path + " " + await admin.GetStringAsync(path));
        }

        return string.Join('\n', parts);
    }

    /// <summary>Rows a viewer's changes would add, in the registry's and the orchestrator's tables.</summary>
    private static async Task<string> RowCountsAsync(NpgsqlConnection database, string model)
    {
        await using var command = new NpgsqlCommand("""
            SELECT concat_ws(',',
                (SELECT count(*) FROM registry.models),
                (SELECT count(*) FROM registry.api_keys),
                (SELECT count(*) FROM registry.api_keys WHERE revoked_at IS NOT NULL),
                (SELECT count(*) FROM registry.audit_log WHERE subject = $1),
                (SELECT count(*) FROM registry.ingestions WHERE model = $1),
                (SELECT count(*) FROM registry.observations WHERE model = $1),
                (SELECT count(*) FROM registry.labels WHERE model = $1),
                (SELECT count(*) FROM registry.snapshots WHERE model = $1),
                (SELECT count(*) FROM registry.training_requests WHERE model = $1),
                (SELECT count(*) FROM registry.batch_predictions WHERE model = $1),
                (SELECT count(*) FROM registry.deployment_history WHERE model = $1),
                (SELECT count(*) FROM orchestration.rollouts WHERE model = $1),
                (SELECT count(*) FROM orchestration.retraining_decisions WHERE model = $1))
            """, database);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static async Task TrainAsync(HttpClient admin, string model, object request)
    {
        var run = await TrainingData.WaitForRunAsync(admin, await TrainingData.StartRunAsync(admin, model, request), TimeSpan.FromMinutes(5));
        Assert.True(run.GetProperty("state").GetString() == "succeeded", $"training failed: {run}");
    }

    private static async Task<string?> RolloutStateAsync(HttpClient admin, string model, Guid rolloutId)
    {
        using var response = await admin.GetAsync($"/api/models/{model}/rollouts/{rolloutId}");
        return response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString() : null;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the rollout never started shadowing");
            await Task.Delay(250);
        }
    }
}
