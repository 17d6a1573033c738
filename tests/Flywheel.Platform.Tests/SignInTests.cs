using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Microsoft.Playwright;
using Npgsql;
using static Microsoft.Playwright.Assertions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// People sign in to the console and the platform acts as them: the console's service key with
/// X-Flywheel-User / X-Flywheel-User-Roles becomes the person (the audit log names them), alone it
/// may do nothing, and no other key turns into a person; in a browser, the local admin account
/// signs in with its password, rejects a rollout, and finds its own name in the audit log.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class SignInTests(PlatformFixture fixture) : IAsyncLifetime
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private ConsoleBrowser _browser = null!;

    public async Task InitializeAsync() => _browser = await ConsoleBrowser.LaunchAsync(_flywheel);

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task The_console_key_with_a_persons_headers_acts_as_that_person_and_the_audit_log_names_them()
    {
        var model = await _flywheel.AdminGateway().DefineModelAsync("signin", TrainingData.FraudModel);
        using var console = Client(_flywheel.ConsoleKey);

        using (var changed = await PutPolicyAsync(console, model, ("alice@contoso.com", "operator,console,predictor")))
        {
            Assert.True(changed.StatusCode == HttpStatusCode.OK, await changed.Content.ReadAsStringAsync());
        }

        // Who the registry thinks it is: the person, with only the roles a person may hold.
        using (var me = Request(HttpMethod.Get, "/api/keys/me", ("alice@contoso.com", "operator,console,predictor")))
        using (var answer = await console.SendAsync(me))
        {
            var own = await answer.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("alice@contoso.com", own.GetProperty("name").GetString());
            Assert.Equal(["operator"], own.GetProperty("roles").EnumerateArray().Select(r => r.GetString()!).ToArray());
        }

        Assert.Equal(["alice@contoso.com"], await PolicyActorsAsync(model));
    }

    [Fact]
    public async Task The_console_key_alone_or_for_a_viewer_may_change_nothing_and_garbage_headers_are_refused()
    {
        var model = await _flywheel.AdminGateway().DefineModelAsync("signin-refused", TrainingData.FraudModel);
        using var console = Client(_flywheel.ConsoleKey);

        using (var alone = await PutPolicyAsync(console, model, null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, alone.StatusCode);
        }

        using (var viewer = await PutPolicyAsync(console, model, ("victor@contoso.com", "viewer")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, viewer.StatusCode);
        }

        using (var audit = Request(HttpMethod.Get, $"/api/audit?model={model}", ("victor@contoso.com", "viewer")))
        using (var read = await console.SendAsync(audit))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        foreach (var garbage in new[] { ("alice\u0001", "operator"), ("alice", "operator;admin"), (new string('a', 300), "operator"), ("", "admin") })
        {
            using var refused = await PutPolicyAsync(console, model, garbage);
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{garbage}: {refused.StatusCode}");
        }

        using (var halfAPair = Request(HttpMethod.Get, "/api/keys/me", null))
        {
            halfAPair.Headers.Add("X-Flywheel-User", "alice");
            using var refused = await console.SendAsync(halfAPair);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        Assert.Empty(await PolicyActorsAsync(model));
    }

    [Fact]
    public async Task Another_key_sending_a_persons_headers_stays_itself()
    {
        var admin = _flywheel.AdminGateway();
        var model = await admin.DefineModelAsync("signin-other", TrainingData.FraudModel);
        var operatorName = "signin-op-" + Guid.NewGuid().ToString("N")[..8];
        using var operatorClient = Client(await ServingSetup.CreateKeyAsync(admin, operatorName, ["operator"], null));

        using (var changed = await PutPolicyAsync(operatorClient, model, ("mallory@contoso.com", "admin")))
        {
            Assert.True(changed.StatusCode == HttpStatusCode.OK, await changed.Content.ReadAsStringAsync());
        }

        // Not an admin either: creating a key needs admin, and the operator key is still an operator.
        using (var key = Request(HttpMethod.Post, "/api/keys", ("mallory@contoso.com", "admin")))
        {
            key.Content = JsonContent.Create(new { name = "mallory", roles = new[] { "admin" } });
            using var refused = await operatorClient.SendAsync(key);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        Assert.Equal([operatorName], await PolicyActorsAsync(model));
    }

    [Fact]
    public async Task The_local_admin_signs_in_with_a_password_rejects_a_rollout_and_finds_their_name_in_the_audit_log()
    {
        var admin = _flywheel.AdminGateway();
        var (model, rolloutId) = await TrainingData.ModelWithRolloutAsync(admin, "signin-browser", dataSeed: 51);

        var page = await _browser.NewPageAsync(height: 900);
        var back = $"/models/{model}?section=rollouts";

        // A wrong password is refused without saying which part was wrong, and nobody is signed in.
        await ConsoleBrowser.GoToAsync(page, $"/sign-in?return={Uri.EscapeDataString(back)}");
        await page.Locator("#account-name").FillAsync("admin");
        await page.Locator("#account-password").FillAsync("not-the-password");
        await page.Locator("#password-sign-in").ClickAsync();
        await Expect(page.Locator("#sign-in-failed")).ToHaveTextAsync("The name or password is not right.");
        await Expect(page.Locator("#signed-in-as")).ToHaveCountAsync(0);
        // The page came back prerendered; what is typed before its circuit connects would be rendered away.
        await Expect(page.Locator("header[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = 30_000 });

        // The right one: a cookie, back to the rollouts, signed in as admin.
        await page.Locator("#account-name").FillAsync("admin");
        await page.Locator("#account-password").FillAsync(_flywheel.ConsoleAdminPassword);
        await page.Locator("#password-sign-in").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex(Regex.Escape(back) + "$"));
        await Expect(page.Locator("header[data-interactive=true]")).ToBeAttachedAsync(new() { Timeout = 30_000 });
        await Expect(page.Locator("#signed-in-as")).ToContainTextAsync("Signed in as admin (admin)");
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "flywheel.console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Lax, cookie.SameSite);
        Assert.DoesNotContain(_flywheel.ConsoleAdminPassword, await page.ContentAsync(), StringComparison.Ordinal);
        // The cookie is protected by the key ring the console keeps in Blob storage (Azurite here), shared by its replicas.
        var keyRing = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts)).GetBlobContainerClient("data-protection");
        var keys = new List<string>();
        await foreach (var blob in keyRing.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "keys/", CancellationToken.None))
        {
            keys.Add(blob.Name);
        }

        Assert.NotEmpty(keys);

        var rollout = page.Locator("article.rollout").First;
        await rollout.GetByRole(AriaRole.Button, new() { Name = "Reject", Exact = true }).ClickAsync();
        await rollout.GetByRole(AriaRole.Button, new() { Name = "Confirm reject" }).ClickAsync();
        await Expect(rollout.Locator("h3 .badge")).ToHaveAttributeAsync("data-state", "rolled_back", new() { Timeout = 60_000 });

        // The audit log names the person, not a key; the cookie survives a reload (a new circuit).
        await ConsoleBrowser.GoToAsync(page, "/audit");
        await page.Locator("#audit-model").FillAsync(model);
        await page.Locator("#audit-action").FillAsync("rollout.rejected");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        var rejections = page.Locator("table.audit tbody tr");
        await Expect(rejections).ToHaveCountAsync(1);
        await Expect(rejections.First.Locator("td").Nth(1)).ToHaveTextAsync("admin");
        await Expect(rejections.First).ToContainTextAsync(rolloutId.ToString());

        // Sign-out is a form post that clears the cookie.
        await page.Locator("header form.sign-out input[type=submit]").ClickAsync();
        await Expect(page.Locator("header a[href^='/sign-in']")).ToBeVisibleAsync();
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "flywheel.console");
    }

    private HttpClient Client(string key)
    {
        var client = _flywheel.CreateClient(ResourceNames.Gateway);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, (string User, string Roles)? person)
    {
        var request = new HttpRequestMessage(method, path);
        if (person is { } p)
        {
            request.Headers.TryAddWithoutValidation("X-Flywheel-User", p.User);
            request.Headers.TryAddWithoutValidation("X-Flywheel-User-Roles", p.Roles);
        }

        return request;
    }

    private static async Task<HttpResponseMessage> PutPolicyAsync(HttpClient client, string model, (string User, string Roles)? person)
    {
        using var request = Request(HttpMethod.Put, $"/api/models/{model}/policy", person);
        request.Content = JsonContent.Create(new { require_approval = true });
        return await client.SendAsync(request);
    }

    private async Task<List<string>> PolicyActorsAsync(string model)
    {
        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var command = new NpgsqlCommand(
            "SELECT actor FROM registry.audit_log WHERE subject = $1 AND action = 'model.policy_changed' ORDER BY id", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        var actors = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            actors.Add(reader.GetString(0));
        }

        return actors;
    }

}
