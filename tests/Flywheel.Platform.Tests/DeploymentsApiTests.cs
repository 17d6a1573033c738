using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// Models with two trained versions each, trained once for the class (training takes most of a
/// minute). Each test that changes traffic takes a model of its own.
/// </summary>
public sealed class DeployableModels
{
    public const int Count = 2;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(6);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Queue<string>? _models;

    /// <summary>A model with versions 1 and 2 that no other test deploys.</summary>
    public async Task<string> TakeAsync(FlywheelApp flywheel)
    {
        await _gate.WaitAsync();
        try
        {
            _models ??= new Queue<string>(await TrainAsync(flywheel));
            return _models.TryDequeue(out var model) ? model : throw new InvalidOperationException($"Only {Count} deployable models are trained; raise DeployableModels.Count.");
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task<string[]> TrainAsync(FlywheelApp flywheel)
    {
        var gateway = flywheel.AdminGateway();
        var models = new string[Count];
        var runs = new List<Guid>();
        for (var i = 0; i < Count; i++)
        {
            models[i] = await gateway.DefineModelAsync("deploy", TrainingData.FraudModel);
            await TrainingData.UploadAsync(gateway, models[i], TrainingData.FraudCsv(600, seed: 40 + i));
            runs.Add(await TrainingData.StartRunAsync(gateway, models[i], new { trainer = "sdca", seed = 1 }));
            runs.Add(await TrainingData.StartRunAsync(gateway, models[i], new { trainer = "sdca", seed = 2 }));
        }

        foreach (var run in runs)
        {
            var finished = await TrainingData.WaitForRunAsync(gateway, run, RunTimeout);
            Assert.True(finished.GetProperty("state").GetString() == "succeeded", $"a training run did not succeed: {finished}");
        }

        return models;
    }
}

/// <summary>Deployments through the gateway: traffic changes, their history, audit and events, rollback, validation and authorisation.</summary>
[Collection(SharedPlatform.Name)]
public sealed class DeploymentsApiTests(PlatformFixture fixture, DeployableModels deployable) : IClassFixture<DeployableModels>
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    private HttpClient Gateway(string? key)
    {
        var client = _flywheel.CreateClient(ResourceNames.Gateway);
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    private static async Task<JsonElement> OkJsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement;
    }

    private static async Task AssertFieldErrorAsync(HttpResponseMessage response, string field)
    {
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"no error for '{field}': {problem}");
        Assert.NotEqual(0, messages.GetArrayLength());
    }

    [Fact]
    public async Task Deploying_a_canary_and_rolling_back_keeps_revisions_history_audit_and_events_in_step()
    {
        var model = await deployable.TakeAsync(_flywheel);
        using var gateway = _flywheel.AdminGateway();

        using (var never = await gateway.GetAsync($"/api/models/{model}/deployment"))
        {
            await ProblemAsync(never, HttpStatusCode.NotFound);
        }

        using (var nothing = await gateway.PostAsJsonAsync($"/api/models/{model}/rollback", new { }))
        {
            await ProblemAsync(nothing, HttpStatusCode.Conflict);
        }

        // Revision 1: version 1 on all traffic.
        var first = await OkJsonAsync(await gateway.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "first release" }));
        Assert.Equal(model, first.GetProperty("model").GetString());
        Assert.Equal(1, first.GetProperty("revision").GetInt64());
        Assert.Equal(1, first.GetProperty("production").GetInt32());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("canary").ValueKind);
        Assert.Equal(JsonValueKind.Null, first.GetProperty("shadow").ValueKind);
        Assert.Equal("bootstrap-admin", first.GetProperty("updated_by").GetString());
        var readBack = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal(first.GetRawText(), readBack.GetRawText());

        // Only one production ever served: nothing to roll back to.
        using (var nothing = await gateway.PostAsync($"/api/models/{model}/rollback", null))
        {
            await ProblemAsync(nothing, HttpStatusCode.Conflict);
        }

        // Re-applying the same traffic is not a change.
        var again = await OkJsonAsync(await gateway.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1, reason = "re-applied" }));
        Assert.Equal(1, again.GetProperty("revision").GetInt64());
        Assert.Equal("first release", again.GetProperty("reason").GetString());

        // Revision 2: version 2 in production, version 1 as a 10% canary and a full shadow, sticky by entity.
        var second = await OkJsonAsync(await gateway.PutAsJsonAsync($"/api/models/{model}/deployment", new
        {
            production = 2,
            canary = new { version = 1, percent = 10, auto_promote = true },
            shadow = new { version = 1, percent = 100 },
            sticky_by = "entity_id",
            reason = "v2 with v1 as control",
        }));
        Assert.Equal(2, second.GetProperty("revision").GetInt64());
        Assert.Equal(2, second.GetProperty("production").GetInt32());
        Assert.Equal(1, second.GetProperty("canary").GetProperty("version").GetInt32());
        Assert.Equal(10, second.GetProperty("canary").GetProperty("percent").GetDouble());
        Assert.True(second.GetProperty("canary").GetProperty("auto_promote").GetBoolean());
        Assert.Equal(100, second.GetProperty("shadow").GetProperty("percent").GetDouble());
        Assert.Equal("entity_id", second.GetProperty("sticky_by").GetString());

        var listed = (await gateway.GetFromJsonAsync<JsonElement>("/api/deployments")).GetProperty("deployments").EnumerateArray()
            .Single(d => d.GetProperty("model").GetString() == model);
        Assert.Equal(2, listed.GetProperty("revision").GetInt64());

        // Rollback without a version: back to version 1 on all traffic, canary and shadow gone.
        var rolledBack = await OkJsonAsync(await gateway.PostAsJsonAsync($"/api/models/{model}/rollback", new { reason = "v2 misbehaves" }));
        Assert.Equal(3, rolledBack.GetProperty("revision").GetInt64());
        Assert.Equal(1, rolledBack.GetProperty("production").GetInt32());
        Assert.Equal(JsonValueKind.Null, rolledBack.GetProperty("canary").ValueKind);
        Assert.Equal(JsonValueKind.Null, rolledBack.GetProperty("shadow").ValueKind);
        Assert.Equal("entity_id", rolledBack.GetProperty("sticky_by").GetString());

        // A second rollback undoes the first; one to a named version goes there.
        var undone = await OkJsonAsync(await gateway.PostAsync($"/api/models/{model}/rollback", null));
        Assert.Equal((4L, 2), (undone.GetProperty("revision").GetInt64(), undone.GetProperty("production").GetInt32()));
        var named = await OkJsonAsync(await gateway.PostAsJsonAsync($"/api/models/{model}/rollback", new { version = 1 }));
        Assert.Equal((5L, 1), (named.GetProperty("revision").GetInt64(), named.GetProperty("production").GetInt32()));
        using (var unknown = await gateway.PostAsJsonAsync($"/api/models/{model}/rollback", new { version = 9 }))
        {
            await AssertFieldErrorAsync(unknown, "version");
        }

        var history = (await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment/history")).GetProperty("history").EnumerateArray().ToArray();
        Assert.Equal([5L, 4, 3, 2, 1], history.Select(h => h.GetProperty("revision").GetInt64()));
        Assert.Equal(["rollback", "rollback", "rollback", "deploy", "deploy"], history.Select(h => h.GetProperty("action").GetString()));
        Assert.All(history, h => Assert.Equal("bootstrap-admin", h.GetProperty("actor").GetString()));
        Assert.Equal("v2 misbehaves", history[2].GetProperty("reason").GetString());
        Assert.Equal("v2 with v1 as control", history[3].GetProperty("reason").GetString());
        Assert.Equal("first release", history[4].GetProperty("reason").GetString());
        Assert.Equal(JsonValueKind.Null, history[4].GetProperty("previous").ValueKind);
        Assert.Equal(1, history[3].GetProperty("previous").GetProperty("production").GetInt32());
        Assert.Equal(10, history[3].GetProperty("deployment").GetProperty("canary").GetProperty("percent").GetDouble());
        Assert.Equal(2, history[2].GetProperty("previous").GetProperty("production").GetInt32());
        Assert.Equal(JsonValueKind.Null, history[2].GetProperty("deployment").GetProperty("canary").ValueKind);

        await using var database = await _flywheel.OpenDatabaseAsync();
        var stored = await ReadAsync(database, "SELECT revision, production, canary_version, updated_by FROM registry.deployments WHERE model = $1", model);
        Assert.Equal(["5|1||bootstrap-admin"], stored);

        var audit = await ReadAsync(database, "SELECT actor, action, (detail->>'revision')::bigint FROM registry.audit_log WHERE subject = $1 AND action LIKE 'deployment.%' ORDER BY id", model);
        Assert.Equal(
            ["bootstrap-admin|deployment.deploy|1", "bootstrap-admin|deployment.deploy|2", "bootstrap-admin|deployment.rollback|3",
             "bootstrap-admin|deployment.rollback|4", "bootstrap-admin|deployment.rollback|5"],
            audit);

        var events = await ReadAsync(database, """
            SELECT (body->>'revision')::bigint, (body->>'production')::integer, body->>'action', body->>'actor'
            FROM registry.outbox WHERE message_type = $1 AND body->>'model' = $2 ORDER BY id
            """, typeof(Flywheel.Contracts.Serving.DeploymentChanged).FullName!, model);
        Assert.Equal(
            ["1|1|deploy|bootstrap-admin", "2|2|deploy|bootstrap-admin", "3|1|rollback|bootstrap-admin",
             "4|2|rollback|bootstrap-admin", "5|1|rollback|bootstrap-admin"],
            events);
    }

    [Fact]
    public async Task Concurrent_changes_to_one_model_serialise_into_consecutive_revisions()
    {
        var model = await deployable.TakeAsync(_flywheel);
        using var gateway = _flywheel.AdminGateway();

        // Eight different traffic splits at once: each must become its own revision, none lost or duplicated.
        var responses = await Task.WhenAll(Enumerable.Range(1, 8).Select(i =>
            gateway.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1 + (i % 2), canary = new { version = 2 - (i % 2), percent = i } })));
        var revisions = new List<long>();
        foreach (var response in responses)
        {
            revisions.Add((await OkJsonAsync(response)).GetProperty("revision").GetInt64());
        }

        Assert.Equal([1L, 2, 3, 4, 5, 6, 7, 8], revisions.Order());
        var history = (await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment/history")).GetProperty("history").EnumerateArray().ToArray();
        Assert.Equal([8L, 7, 6, 5, 4, 3, 2, 1], history.Select(h => h.GetProperty("revision").GetInt64()));
        var current = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/deployment");
        Assert.Equal(history[0].GetProperty("deployment").GetProperty("canary").GetProperty("percent").GetDouble(),
            current.GetProperty("canary").GetProperty("percent").GetDouble());

        // Each revision's "previous" is the one before it: the chain has no gaps.
        for (var i = 0; i < history.Length - 1; i++)
        {
            Assert.Equal(history[i + 1].GetProperty("deployment").GetProperty("revision").GetInt64(), history[i].GetProperty("previous").GetProperty("revision").GetInt64());
        }
    }

    [Theory]
    [InlineData("""{ "production": 7 }""", "production")]
    [InlineData("""{ "production": 0 }""", "production")]
    [InlineData("""{ }""", "production")]
    [InlineData("""{ "production": 1, "canary": { "version": 2, "percent": 0 } }""", "canary.percent")]
    [InlineData("""{ "production": 1, "canary": { "version": 2, "percent": 100 } }""", "canary.percent")]
    [InlineData("""{ "production": 1, "canary": { "version": 2, "percent": 150 } }""", "canary.percent")]
    [InlineData("""{ "production": 1, "canary": { "version": 1, "percent": 10 } }""", "canary.version")]
    [InlineData("""{ "production": 1, "canary": { "version": 9, "percent": 10 } }""", "canary.version")]
    [InlineData("""{ "production": 1, "shadow": { "version": 9, "percent": 50 } }""", "shadow.version")]
    [InlineData("""{ "production": 1, "shadow": { "version": 2, "percent": 0 } }""", "shadow.percent")]
    [InlineData("""{ "production": 1, "sticky_by": "cookie" }""", "sticky_by")]
    [InlineData("""{ "production": 1, "sticky_by": "header:X User" }""", "sticky_by")]
    [InlineData("""{ "production": "one" }""", "production")]
    public async Task A_bad_deployment_is_refused_with_the_field_at_fault_and_changes_nothing(string body, string field)
    {
        var model = await _flywheel.AdminGateway().DefineModelAsync("undeployed", TrainingData.FraudModel);
        using var gateway = _flywheel.AdminGateway();

        using var response = await gateway.PutAsync($"/api/models/{model}/deployment", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertFieldErrorAsync(response, field);
        using var current = await gateway.GetAsync($"/api/models/{model}/deployment");
        Assert.Equal(HttpStatusCode.NotFound, current.StatusCode);
        await using var database = await _flywheel.OpenDatabaseAsync();
        Assert.Empty(await ReadAsync(database, "SELECT revision FROM registry.deployment_history WHERE model = $1", model));
    }

    [Fact]
    public async Task A_deployment_without_a_body_names_production_as_required()
    {
        var model = await _flywheel.AdminGateway().DefineModelAsync("undeployed", TrainingData.FraudModel);
        using var gateway = _flywheel.AdminGateway();

        using var response = await gateway.PutAsync($"/api/models/{model}/deployment", null);

        await AssertFieldErrorAsync(response, "production");
    }

    [Fact]
    public async Task Deploying_rolling_back_or_reading_an_unknown_model_is_not_found()
    {
        using var gateway = _flywheel.AdminGateway();
        var model = "no-such-model-" + Guid.NewGuid().ToString("N")[..8];

        using var deploy = await gateway.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1 });
        using var rollback = await gateway.PostAsync($"/api/models/{model}/rollback", null);
        using var read = await gateway.GetAsync($"/api/models/{model}/deployment");
        using var history = await gateway.GetAsync($"/api/models/{model}/deployment/history");

        await ProblemAsync(deploy, HttpStatusCode.NotFound);
        await ProblemAsync(rollback, HttpStatusCode.NotFound);
        await ProblemAsync(read, HttpStatusCode.NotFound);
        await ProblemAsync(history, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Changing_traffic_needs_an_operating_key_and_reading_it_needs_none()
    {
        using var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("undeployed", TrainingData.FraudModel);
        using var created = await admin.PostAsJsonAsync("/api/keys", new { name = "predict-only", roles = new[] { "predictor" }, models = new[] { model } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var predictorKey = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        using var anonymous = Gateway(null);
        using var predictor = Gateway(predictorKey);

        using var noKey = await anonymous.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1 });
        using var noKeyRollback = await anonymous.PostAsync($"/api/models/{model}/rollback", null);
        using var predictorPut = await predictor.PutAsJsonAsync($"/api/models/{model}/deployment", new { production = 1 });
        using var predictorRollback = await predictor.PostAsync($"/api/models/{model}/rollback", null);
        using var predictorServing = await predictor.PutAsJsonAsync($"/api/models/{model}/serving", new { max_batch_size = 8 });
        using var predictorModel = await predictor.PostAsJsonAsync("/api/models", new { name = "x" });
        using var predictorKeys = await predictor.PostAsJsonAsync("/api/keys", new { name = "escalate", roles = new[] { "admin" } });
        using var predictorRead = await predictor.GetAsync($"/api/models/{model}");
        using var anonymousList = await anonymous.GetAsync("/api/deployments");

        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, noKeyRollback.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, predictorPut.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, predictorRollback.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, predictorServing.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, predictorModel.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, predictorKeys.StatusCode);
        Assert.Equal(HttpStatusCode.OK, predictorRead.StatusCode);
        Assert.Equal(HttpStatusCode.OK, anonymousList.StatusCode);
        var serving = await admin.GetFromJsonAsync<JsonElement>($"/api/models/{model}/serving");
        Assert.Equal(64, serving.GetProperty("max_batch_size").GetInt32());
    }

    [Fact]
    public async Task Serving_settings_round_trip_with_defaults_filled_in_and_are_audited()
    {
        using var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("serving", TrainingData.FraudModel);

        var defaults = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/serving");
        Assert.Equal(64, defaults.GetProperty("max_batch_size").GetInt32());
        Assert.Equal("reject", defaults.GetProperty("unknown_categories").GetString());

        var put = await OkJsonAsync(await gateway.PutAsJsonAsync($"/api/models/{model}/serving",
            new { max_batch_size = 16, max_batch_wait_ms = 2.5, cache_enabled = true, unknown_categories = "allow" }));
        Assert.Equal(16, put.GetProperty("max_batch_size").GetInt32());

        var read = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/serving");
        Assert.Equal(16, read.GetProperty("max_batch_size").GetInt32());
        Assert.Equal(2.5, read.GetProperty("max_batch_wait_ms").GetDouble());
        Assert.True(read.GetProperty("cache_enabled").GetBoolean());
        Assert.Equal(300, read.GetProperty("cache_ttl_seconds").GetInt32());
        Assert.Equal("allow", read.GetProperty("unknown_categories").GetString());
        var asModel = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}");
        Assert.Equal(16, asModel.GetProperty("serving").GetProperty("max_batch_size").GetInt32());

        await using var database = await _flywheel.OpenDatabaseAsync();
        var stored = await ReadAsync(database, "SELECT (serving->>'max_batch_size')::integer, serving->>'unknown_categories' FROM registry.models WHERE name = $1", model);
        Assert.Equal(["16|allow"], stored);
        var audit = await ReadAsync(database, "SELECT actor FROM registry.audit_log WHERE subject = $1 AND action = 'model.serving_changed'", model);
        Assert.Equal(["bootstrap-admin"], audit);
    }

    [Theory]
    [InlineData("""{ "max_batch_size": 0 }""", "max_batch_size")]
    [InlineData("""{ "max_batch_size": 5000 }""", "max_batch_size")]
    [InlineData("""{ "max_batch_wait_ms": -1 }""", "max_batch_wait_ms")]
    [InlineData("""{ "cache_ttl_seconds": 0 }""", "cache_ttl_seconds")]
    [InlineData("""{ "unknown_categories": "sometimes" }""", "unknown_categories")]
    public async Task A_bad_serving_setting_is_refused_by_field_and_the_stored_ones_stay(string body, string field)
    {
        using var gateway = _flywheel.AdminGateway();
        var model = await gateway.DefineModelAsync("serving", TrainingData.FraudModel);

        using var response = await gateway.PutAsync($"/api/models/{model}/serving", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertFieldErrorAsync(response, field);
        var read = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/serving");
        Assert.Equal(64, read.GetProperty("max_batch_size").GetInt32());
    }

    /// <summary>The rows a query returns, each as its values joined by '|' (NULL as nothing).</summary>
    private static async Task<List<string>> ReadAsync(NpgsqlConnection database, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, database);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(string.Join('|', row.Select(value => value is DBNull ? "" : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }
}
