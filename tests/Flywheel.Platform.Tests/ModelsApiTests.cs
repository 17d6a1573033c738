using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>Defining models through the gateway: authorisation, validation with field errors, persistence and audit.</summary>
[Collection(SharedPlatform.Name)]
public sealed class ModelsApiTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    private static JsonObject CardFraud(string name) => JsonNode.Parse($$"""
        {
          "name": "{{name}}", "task": "binary", "entity_key": "card_id",
          "features": [
            { "name": "amount", "type": "numeric", "nullable": false, "min": 0 },
            { "name": "merchant_category", "type": "categorical", "categories": ["grocery", "travel"] },
            { "name": "is_online", "type": "boolean" },
            { "name": "email", "type": "categorical", "pii": true, "nullable": true }
          ],
          "target": { "name": "is_fraud", "type": "boolean" },
          "policy": { "require_approval": true }
        }
        """)!.AsObject();

    private static string UniqueName() => "m-" + Guid.NewGuid().ToString("N")[..10];

    private HttpClient Gateway(string? key = null)
    {
        var client = _flywheel.CreateClient(ResourceNames.Gateway);
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    [Fact]
    public async Task Defining_a_model_needs_a_key_with_an_operating_role()
    {
        using var anonymous = Gateway();
        using var forged = Gateway("not-a-real-key-" + Guid.NewGuid());

        using var noKey = await anonymous.PostAsJsonAsync("/api/models", CardFraud(UniqueName()));
        using var badKey = await forged.PostAsJsonAsync("/api/models", CardFraud(UniqueName()));

        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, badKey.StatusCode);
        Assert.Equal("application/problem+json", noKey.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", Assert.Single(noKey.Headers.WwwAuthenticate).Scheme);
        var missing = await noKey.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Present an API key as 'Authorization: Bearer <key>' or 'X-Api-Key' with one of the roles admin, operator.", missing.GetProperty("detail").GetString());

        // A key without the role is told which roles it has and which the change needs.
        using var admin = Gateway(_flywheel.AdminKey);
        var viewerName = "models-viewer-" + Guid.NewGuid().ToString("N")[..8];
        using var viewer = Gateway(await ServingSetup.CreateKeyAsync(admin, viewerName, ["viewer"], null));
        using var refused = await viewer.PostAsJsonAsync("/api/models", CardFraud(UniqueName()));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal($"The key '{viewerName}' has the role viewer; this needs one of: admin, operator.",
            (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_defined_model_is_stored_read_back_and_audited()
    {
        var name = UniqueName();
        using var gateway = Gateway(_flywheel.AdminKey);

        using var created = await gateway.PostAsJsonAsync("/api/models", CardFraud(name));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"/api/models/{name}", created.Headers.Location?.OriginalString);
        var model = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{name}");
        Assert.Equal("binary", model.GetProperty("task").GetString());
        Assert.Equal("card_id", model.GetProperty("entity_key").GetString());
        Assert.True(model.GetProperty("policy").GetProperty("require_approval").GetBoolean());
        var features = model.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(["amount", "merchant_category", "is_online", "email"], features.Select(f => f.GetProperty("name").GetString()));
        Assert.Equal(0, features[0].GetProperty("min").GetDouble());
        Assert.Equal(["grocery", "travel"], features[1].GetProperty("categories").EnumerateArray().Select(c => c.GetString()));
        Assert.True(features[3].GetProperty("pii").GetBoolean());
        Assert.Equal("bootstrap-admin", model.GetProperty("created_by").GetString());

        var list = await gateway.GetFromJsonAsync<JsonElement>("/api/models");
        Assert.Contains(list.GetProperty("models").EnumerateArray(), m => m.GetProperty("name").GetString() == name);

        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var audit = new NpgsqlCommand("SELECT actor, action FROM registry.audit_log WHERE subject = $1", connection);
        audit.Parameters.Add(new NpgsqlParameter { Value = name });
        await using var reader = await audit.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("bootstrap-admin", reader.GetString(0));
        Assert.Equal("model.created", reader.GetString(1));
    }

    [Fact]
    public async Task An_invalid_definition_gets_every_error_by_field_and_stores_nothing()
    {
        var name = UniqueName();
        var body = CardFraud(name);
        body["features"]![0]!["max"] = -1;
        body["features"]![1]!["min"] = 3;
        body["target"]!["type"] = "numeric";
        using var gateway = Gateway(_flywheel.AdminKey);

        using var response = await gateway.PostAsJsonAsync("/api/models", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("features[0].min", out _), errors.ToString());
        Assert.True(errors.TryGetProperty("features[1]", out _), errors.ToString());
        Assert.True(errors.TryGetProperty("target.type", out _), errors.ToString());
        using var lookup = await gateway.GetAsync($"/api/models/{name}");
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task A_body_that_does_not_fit_the_contract_gets_a_400_naming_the_field()
    {
        var body = CardFraud(UniqueName());
        body["task"] = "clustering";
        using var gateway = Gateway(_flywheel.AdminKey);

        using var wrongEnum = await gateway.PostAsJsonAsync("/api/models", body);
        using var notJson = await gateway.PostAsync("/api/models", new StringContent("{ \"name\": ", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, wrongEnum.StatusCode);
        var errors = (await wrongEnum.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal("must be one of: binary, multiclass, regression.", errors.GetProperty("task")[0].GetString());
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        var truncated = (await notJson.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal("The JSON ends before it is complete.", truncated.EnumerateObject().Single().Value[0].GetString());

        // No .NET type names reach the caller, whatever the value.
        body["task"] = "binary";
        body["features"]![0]!["min"] = "zero";
        using var wrongType = await gateway.PostAsJsonAsync("/api/models", body);
        var text = await wrongType.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
        Assert.Contains("\"features[0].min\":[\"must be a number.\"]", text, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Flywheel.", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_field_the_api_does_not_have_is_refused_by_its_path_and_nothing_is_stored_or_reset()
    {
        var name = UniqueName();
        var body = CardFraud(name);
        body.Remove("entity_key");
        body["entityKey"] = "card_id";
        body["features"]![1]!["colour"] = "red";
        using var gateway = Gateway(_flywheel.AdminKey);

        using var created = await gateway.PostAsJsonAsync("/api/models", body);

        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
        var errors = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["entityKey", "features[1].colour"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Contains("entity_key", errors.GetProperty("entityKey")[0].GetString(), StringComparison.Ordinal);
        using (var lookup = await gateway.GetAsync($"/api/models/{name}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
        }

        // A policy PUT replaces the whole policy: a misspelt field must not reset the rest to the defaults.
        body = CardFraud(name);
        using (var good = await gateway.PostAsJsonAsync("/api/models", body))
        {
            Assert.Equal(HttpStatusCode.Created, good.StatusCode);
        }

        using var misspelt = await gateway.PutAsync($"/api/models/{name}/policy",
            new StringContent("""{ "requireApproval": false }""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, misspelt.StatusCode);
        Assert.True((await misspelt.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("requireApproval", out _));
        var policy = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{name}/policy");
        Assert.True(policy.GetProperty("require_approval").GetBoolean());
    }

    [Fact]
    public async Task A_model_name_is_defined_once()
    {
        var name = UniqueName();
        using var gateway = Gateway(_flywheel.AdminKey);
        using var first = await gateway.PostAsJsonAsync("/api/models", CardFraud(name));

        var changed = CardFraud(name);
        changed["task"] = "regression";
        changed["target"]!["type"] = "numeric";
        using var second = await gateway.PostAsJsonAsync("/api/models", changed);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal("application/problem+json", second.Content.Headers.ContentType?.MediaType);
        var stored = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{name}");
        Assert.Equal("binary", stored.GetProperty("task").GetString());
    }

    [Fact]
    public async Task The_audit_log_cannot_be_rewritten()
    {
        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var rewrite = new NpgsqlCommand("UPDATE registry.audit_log SET actor = 'someone-else'", connection);

        var error = await Assert.ThrowsAsync<PostgresException>(() => rewrite.ExecuteNonQueryAsync());

        Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_are_stored_as_hashes_only()
    {
        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var keys = new NpgsqlCommand("SELECT key_hash FROM registry.api_keys WHERE name = 'bootstrap-admin'", connection);

        var hash = (byte[])(await keys.ExecuteScalarAsync())!;

        Assert.Equal(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(_flywheel.AdminKey)), hash);
    }
}
