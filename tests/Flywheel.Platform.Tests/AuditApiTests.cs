using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Flywheel.Platform.Tests;

/// <summary><c>GET /api/audit</c> and <c>GET /api/keys/me</c> on the real registry and its audit log.</summary>
[Collection(SharedPlatform.Name)]
public sealed class AuditApiTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task The_audit_log_reads_newest_first_filtered_and_paged_for_operators_only()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("audit", TrainingData.FraudModel);
        var operatorName = "audit-op-" + Guid.NewGuid().ToString("N")[..8];
        using var operatorClient = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, operatorName, ["operator"], null));
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, operatorName + "-p", ["predictor"], [model]));
        using (var put = await operatorClient.PutAsJsonAsync($"/api/models/{model}/policy", new { require_approval = true }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        // Newest first: the operator's policy change, then the model's creation by the admin.
        var all = await operatorClient.GetFromJsonAsync<JsonElement>($"/api/audit?model={model}");
        var entries = all.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(
            [$"{operatorName}|model.policy_changed|{model}", $"bootstrap-admin|model.created|{model}"],
            entries.Select(e => $"{e.GetProperty("actor").GetString()}|{e.GetProperty("action").GetString()}|{e.GetProperty("subject").GetString()}"));
        Assert.True(entries[0].GetProperty("id").GetInt64() > entries[1].GetProperty("id").GetInt64());
        Assert.True(entries[0].GetProperty("detail").GetProperty("policy").GetProperty("require_approval").GetBoolean());
        Assert.Equal(JsonValueKind.Null, all.GetProperty("next_before").ValueKind);

        var byActor = await admin.GetFromJsonAsync<JsonElement>($"/api/audit?actor={operatorName}&action=model.policy_changed");
        Assert.Equal(model, Assert.Single(byActor.GetProperty("entries").EnumerateArray()).GetProperty("subject").GetString());

        // Pages: one entry, then the older one from the cursor, then no more.
        var first = await operatorClient.GetFromJsonAsync<JsonElement>($"/api/audit?model={model}&limit=1");
        var firstEntry = Assert.Single(first.GetProperty("entries").EnumerateArray());
        Assert.Equal("model.policy_changed", firstEntry.GetProperty("action").GetString());
        Assert.Equal(firstEntry.GetProperty("id").GetInt64(), first.GetProperty("next_before").GetInt64());
        var second = await operatorClient.GetFromJsonAsync<JsonElement>($"/api/audit?model={model}&limit=1&before={first.GetProperty("next_before").GetInt64()}");
        Assert.Equal("model.created", Assert.Single(second.GetProperty("entries").EnumerateArray()).GetProperty("action").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_before").ValueKind);

        using (var refused = await predictor.GetAsync("/api/audit"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using (var refused = await anonymous.GetAsync("/api/audit"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (var bad = await operatorClient.GetAsync("/api/audit?limit=0&before=abc"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Equal(["before", "limit"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        }

        using (var tooMany = await operatorClient.GetAsync("/api/audit?limit=501"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        }
    }

    [Fact]
    public async Task A_key_can_ask_who_it_is_and_no_key_cannot()
    {
        var admin = _flywheel.AdminGateway();
        var name = "whoami-" + Guid.NewGuid().ToString("N")[..8];
        using var predictor = ServingSetup.Client(_flywheel, await ServingSetup.CreateKeyAsync(admin, name, ["predictor"], null));

        var me = await predictor.GetFromJsonAsync<JsonElement>("/api/keys/me");
        Assert.Equal(name, me.GetProperty("name").GetString());
        Assert.Equal(["predictor"], me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        var listed = (await admin.GetFromJsonAsync<JsonElement>("/api/keys")).GetProperty("keys").EnumerateArray()
            .Single(k => k.GetProperty("name").GetString() == name);
        Assert.Equal(listed.GetProperty("id").GetGuid(), me.GetProperty("id").GetGuid());

        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using var refused = await anonymous.GetAsync("/api/keys/me");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }
}
