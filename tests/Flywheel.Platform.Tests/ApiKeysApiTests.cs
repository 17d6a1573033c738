using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>API keys through the gateway: shown once, stored hashed, scoped, audited, and dead the moment they are revoked.</summary>
[Collection(SharedPlatform.Name)]
public sealed class ApiKeysApiTests(PlatformFixture fixture)
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

    private static async Task<JsonElement> CreatedAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    [Fact]
    public async Task An_operator_key_works_until_it_is_revoked_and_then_fails_at_once()
    {
        using var admin = _flywheel.AdminGateway();
        var name = "ops-" + Guid.NewGuid().ToString("N")[..8];
        var created = await CreatedAsync(await admin.PostAsJsonAsync("/api/keys", new { name, roles = new[] { "operator" }, requests_per_second = 50, daily_quota = 10_000 }));
        var id = created.GetProperty("id").GetGuid();
        var key = created.GetProperty("key").GetString()!;
        Assert.StartsWith("fw_", key, StringComparison.Ordinal);
        Assert.True(key.Length >= 32, key);
        Assert.Equal(["operator"], created.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(50, created.GetProperty("requests_per_second").GetInt32());
        Assert.Equal(10_000, created.GetProperty("daily_quota").GetInt64());

        using var operatorClient = Gateway(key);
        var model = await operatorClient.DefineModelAsync("by-operator", TrainingData.FraudModel);
        using var bearerOnKeys = await operatorClient.GetAsync("/api/keys");
        Assert.Equal(HttpStatusCode.Forbidden, bearerOnKeys.StatusCode);

        using (var revoked = await admin.DeleteAsync($"/api/keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }

        using (var again = await admin.DeleteAsync($"/api/keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        using var afterRevoke = await operatorClient.PutAsJsonAsync($"/api/models/{model}/serving", new { max_batch_size = 8 });
        Assert.Equal(HttpStatusCode.Unauthorized, afterRevoke.StatusCode);

        var listed = (await admin.GetFromJsonAsync<JsonElement>("/api/keys")).GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == id);
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("revoked_at").ValueKind);
        Assert.Equal("bootstrap-admin", listed.GetProperty("created_by").GetString());

        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var audit = new NpgsqlCommand("SELECT actor || '|' || action FROM registry.audit_log WHERE subject = $1 ORDER BY id", database);
        audit.Parameters.Add(new NpgsqlParameter { Value = id.ToString() });
        var actions = new List<string>();
        await using (var reader = await audit.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                actions.Add(reader.GetString(0));
            }
        }

        // The second revocation changed nothing, so it is not in the log.
        Assert.Equal(["bootstrap-admin|api_key.created", "bootstrap-admin|api_key.revoked"], actions);
        await using var creator = new NpgsqlCommand("SELECT created_by FROM registry.models WHERE name = $1", database);
        creator.Parameters.Add(new NpgsqlParameter { Value = model });
        Assert.Equal(name, await creator.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Live_keys_have_distinct_names_even_when_asked_for_at_once_and_a_revoked_key_s_name_is_free_again()
    {
        using var admin = _flywheel.AdminGateway();
        var name = "twin-" + Guid.NewGuid().ToString("N")[..8];

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using var response = await admin.PostAsJsonAsync("/api/keys", new { name, roles = new[] { "viewer" } });
            return (response.StatusCode, Body: await response.Content.ReadFromJsonAsync<JsonElement>());
        }));

        var created = Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Created).Body;
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.Created), refused =>
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("is the name of a live key.", refused.Body.GetProperty("errors").GetProperty("name")[0].GetString());
            Assert.Contains(created.GetProperty("id").GetString()!, refused.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        });
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM registry.api_keys WHERE name = $1", database);
        count.Parameters.Add(new NpgsqlParameter { Value = name });
        Assert.Equal(1L, await count.ExecuteScalarAsync());

        using (var revoked = await admin.DeleteAsync($"/api/keys/{created.GetProperty("id").GetString()}"))
        {
            Assert.True(revoked.IsSuccessStatusCode, await revoked.Content.ReadAsStringAsync());
        }

        await CreatedAsync(await admin.PostAsJsonAsync("/api/keys", new { name, roles = new[] { "viewer" } }));
        Assert.Equal(2L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_key_is_shown_once_and_stored_only_as_its_hash()
    {
        using var admin = _flywheel.AdminGateway();
        var created = await CreatedAsync(await admin.PostAsJsonAsync("/api/keys", new { name = "hash-check", roles = new[] { "admin" } }));
        var id = created.GetProperty("id").GetGuid();
        var key = created.GetProperty("key").GetString()!;

        var list = await admin.GetStringAsync("/api/keys");
        Assert.DoesNotContain(key, list, StringComparison.Ordinal);
        Assert.DoesNotContain(key[3..], list, StringComparison.Ordinal);
        var listed = JsonDocument.Parse(list).RootElement.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == id);
        Assert.Equal(
            ["created_at", "created_by", "daily_quota", "id", "models", "name", "requests_per_second", "revoked_at", "roles"],
            listed.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("revoked_at").ValueKind);

        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var stored = new NpgsqlCommand("SELECT key_hash FROM registry.api_keys WHERE id = $1", database);
        stored.Parameters.Add(new NpgsqlParameter { Value = id });
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(key)), (byte[])(await stored.ExecuteScalarAsync())!);

        // Nowhere in the registry's tables, as text, is the key itself.
        await using var anywhere = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM registry.api_keys k WHERE k::text LIKE '%' || $1 || '%')
                 + (SELECT count(*) FROM registry.audit_log a WHERE a::text LIKE '%' || $1 || '%')
            """, database);
        anywhere.Parameters.Add(new NpgsqlParameter { Value = key[3..] });
        Assert.Equal(0L, await anywhere.ExecuteScalarAsync());

        // The new admin key works on admin-only endpoints.
        using var newAdmin = Gateway(key);
        using var keys = await newAdmin.GetAsync("/api/keys");
        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
    }

    [Fact]
    public async Task A_predictor_key_is_scoped_to_models_that_exist_and_cannot_change_anything()
    {
        using var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("scoped", TrainingData.FraudModel);
        var created = await CreatedAsync(await admin.PostAsJsonAsync("/api/keys", new { name = "scoped-predictor", roles = new[] { "predictor" }, models = new[] { model } }));
        Assert.Equal([model], created.GetProperty("models").EnumerateArray().Select(m => m.GetString()));

        await using (var database = await _flywheel.OpenDatabaseAsync())
        {
            await using var stored = new NpgsqlCommand("SELECT roles, models FROM registry.api_keys WHERE id = $1", database);
            stored.Parameters.Add(new NpgsqlParameter { Value = created.GetProperty("id").GetGuid() });
            await using var reader = await stored.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(["predictor"], reader.GetFieldValue<string[]>(0));
            Assert.Equal([model], reader.GetFieldValue<string[]>(1));
        }

        using var predictor = Gateway(created.GetProperty("key").GetString());
        using var define = await predictor.PostAsJsonAsync("/api/models", new { name = "nope" });
        using var upload = await predictor.PostAsync($"/api/models/{model}/data", new StringContent("a\n1\n", Encoding.UTF8, "text/csv"));
        using var train = await predictor.PostAsJsonAsync($"/api/models/{model}/training-runs", new { });
        using var revoke = await predictor.DeleteAsync($"/api/keys/{Guid.NewGuid()}");
        using var read = await predictor.GetAsync($"/api/models/{model}/versions");
        Assert.Equal(HttpStatusCode.Forbidden, define.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, upload.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, train.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Theory]
    [InlineData("""{ "roles": ["predictor"] }""", "name")]
    [InlineData("""{ "name": "k" }""", "roles")]
    [InlineData("""{ "name": "k", "roles": [] }""", "roles")]
    [InlineData("""{ "name": "k", "roles": ["root"] }""", "roles[0]")]
    [InlineData("""{ "name": "k", "roles": ["predictor"], "models": ["no-such-model-anywhere"] }""", "models[0]")]
    [InlineData("""{ "name": "k", "roles": ["predictor"], "models": [] }""", "models")]
    [InlineData("""{ "name": "k", "roles": ["operator"], "models": ["x"] }""", "models")]
    [InlineData("""{ "name": "k", "roles": ["predictor"], "requests_per_second": 0 }""", "requests_per_second")]
    [InlineData("""{ "name": "k", "roles": ["predictor"], "daily_quota": -5 }""", "daily_quota")]
    [InlineData("""{ "name": "k", "roles": "admin" }""", "roles")]
    public async Task A_bad_key_request_is_refused_with_the_field_at_fault_and_creates_nothing(string body, string field)
    {
        using var admin = _flywheel.AdminGateway();
        await using var database = await _flywheel.OpenDatabaseAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM registry.api_keys", database);
        var before = (long)(await count.ExecuteScalarAsync())!;

        using var response = await admin.PostAsync("/api/keys", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem);
        Assert.True(JsonDocument.Parse(problem).RootElement.GetProperty("errors").TryGetProperty(field, out _), problem);
        Assert.Equal(before, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Revoking_an_unknown_key_is_not_found_and_keys_need_an_admin()
    {
        using var admin = _flywheel.AdminGateway();
        using var anonymous = Gateway(null);

        using var unknown = await admin.DeleteAsync($"/api/keys/{Guid.NewGuid()}");
        using var anonymousCreate = await anonymous.PostAsJsonAsync("/api/keys", new { name = "anon", roles = new[] { "admin" } });
        using var anonymousList = await anonymous.GetAsync("/api/keys");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousCreate.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousList.StatusCode);
    }
}
