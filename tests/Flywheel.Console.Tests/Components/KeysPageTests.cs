using System.Net;
using System.Text.Json.Nodes;
using Bunit;
using Flywheel.Console.Components.Pages;
using Flywheel.Console.Tests.Fakes;

namespace Flywheel.Console.Tests.Components;

public sealed class KeysPageTests : ConsoleTest
{
    private const string Keys = "/api/keys";
    private const string CheckoutId = "0190a6b2-aaaa-7000-8000-000000000001";
    private const string OldId = "0190a6b2-aaaa-7000-8000-000000000002";
    private const string NewKey = "fw_s3cr3t-shown-once-Zq9";

    private static string Key(string id, string name, string roles, string models = "null", string rps = "null", string quota = "null", string revoked = "null") => $$"""
        { "id": "{{id}}", "name": "{{name}}", "roles": {{roles}}, "models": {{models}}, "requests_per_second": {{rps}}, "daily_quota": {{quota}},
          "created_at": "2026-01-02T03:04:05+00:00", "created_by": "bootstrap-admin", "revoked_at": {{revoked}} }
        """;

    private static string List(params string[] keys) => $$"""{ "keys": [ {{string.Join(",", keys)}} ] }""";

    private static readonly string Checkout = Key(CheckoutId, "checkout", """["predictor"]""", """["card-fraud"]""", "50", "10000");
    private static readonly string Old = Key(OldId, "old-ci", """["operator"]""", revoked: "\"2026-01-03T00:00:00+00:00\"");

    private static void AssertJson(string expected, string? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual!)), $"sent {actual}");

    [Fact]
    public void Without_sign_in_the_page_asks_for_an_admin_key_and_sends_nothing()
    {
        var page = Render<KeysPage>();

        Assert.Equal("Managing keys needs an admin key. Sign in with one.", Text(page.Find(".card.empty")));
        Assert.Equal("/sign-in?return=%2Fkeys", page.Find(".card.empty a").GetAttribute("href"));
        Assert.Empty(Registry.Requests);
    }

    [Theory]
    [InlineData("operator")]
    [InlineData("viewer")]
    [InlineData("predictor")]
    public async Task A_key_without_the_admin_role_is_told_so_and_nothing_is_sent(string role)
    {
        await SignInAsync("someone", role);

        var page = Render<KeysPage>();

        Assert.Equal("Managing keys needs an admin key. Sign in with another key.", Text(page.Find("#cannot-manage")));
        Assert.Empty(page.FindAll("form"));
        Assert.DoesNotContain(Keys, Registry.Requests);
    }

    [Fact]
    public async Task An_admin_sees_every_key_with_roles_models_limits_creator_and_revocation()
    {
        await SignInAsync("root", "admin");
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Checkout, Old));

        var page = Render<KeysPage>();

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("table.keys tbody tr").Count));
        var rows = page.FindAll("table.keys tbody tr").Select(Cells).ToList();
        Assert.Equal(["checkout", "predictor", "card-fraud", "50/s, 10,000/day", "2026-01-02 03:04:05 UTC by bootstrap-admin", "—", "Revoke"], rows[0]);
        Assert.Equal(["old-ci", "operator", "all", "default rate, default quota", "2026-01-02 03:04:05 UTC by bootstrap-admin", "2026-01-03 00:00:00 UTC", ""], rows[1]);
        Assert.Equal("Revoke checkout", page.Find("table.keys tbody tr button").GetAttribute("aria-label"));
        Assert.Equal(OperatorKey, Assert.Single(Registry.Sent, r => r.PathAndQuery == Keys).ApiKey);
    }

    [Fact]
    public async Task The_form_checks_name_roles_and_limits_before_sending()
    {
        await SignInAsync("root", "admin");
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Checkout));
        var page = Render<KeysPage>();
        page.WaitForElement("table.keys");

        page.Find("#key-rps").Input("0");
        page.Find("form.create-key").Submit();

        Assert.Equal("Enter a name: it names the key's caller in the audit log and the prediction log.", Text(page.Find("#key-name-error")));
        Assert.Equal("Choose at least one role.", Text(page.Find("#key-roles-error")));
        Assert.Equal("Enter a whole number of 1 or more, or leave it empty for the gateway's default.", Text(page.Find("#key-rps-error")));
        Assert.Equal("true", page.Find("#key-name").GetAttribute("aria-invalid"));
        Assert.DoesNotContain(Registry.Sent, r => r.Method == "POST");
    }

    [Fact]
    public async Task Creating_a_predictor_key_sends_its_roles_models_and_limits_and_shows_the_key_once()
    {
        await SignInAsync("root", "admin");
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Checkout));
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Checkout, Key("0190a6b2-aaaa-7000-8000-000000000003", "scorer", """["predictor","viewer"]""", """["card-fraud"]""", "20")));
        Registry.Answer("POST", Keys, HttpStatusCode.Created, $$"""
            { "id": "0190a6b2-aaaa-7000-8000-000000000003", "name": "scorer", "key": "{{NewKey}}", "roles": ["predictor","viewer"], "models": ["card-fraud"],
              "requests_per_second": 20, "daily_quota": null, "created_at": "2026-01-05T00:00:00+00:00", "created_by": "root" }
            """);
        var page = Render<KeysPage>();
        page.WaitForElement("table.keys");
        Assert.Empty(page.FindAll("#key-models"));

        page.Find("#key-name").Input("scorer");
        page.Find("#key-role-viewer").Change(true);
        page.Find("#key-role-predictor").Change(true);
        page.Find("#key-models").Input("card-fraud, card-fraud ");
        page.Find("#key-rps").Input("20");
        page.Find("form.create-key").Submit();

        page.WaitForAssertion(() => Assert.Equal(NewKey, Text(page.Find("#new-key"))));
        Assert.Contains("this is the only time it is shown", Text(page.Find(".created-key")), StringComparison.Ordinal);
        var post = Assert.Single(Registry.Sent, r => r.Method == "POST");
        Assert.Equal(OperatorKey, post.ApiKey);
        AssertJson("""
            { "name": "scorer", "roles": ["predictor", "viewer"], "models": ["card-fraud"], "requests_per_second": 20, "daily_quota": null }
            """, post.Body);
        // The list is read again and shows the new key, never the key itself.
        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("table.keys tbody tr").Count));
        Assert.DoesNotContain(NewKey, Text(page.Find("table.keys")), StringComparison.Ordinal);
        // The form is cleared for the next key.
        Assert.Equal("", page.Find("#key-name").GetAttribute("value"));

        page.FindAll("button").Single(b => Text(b) == "I have copied it").Click();

        Assert.Empty(page.FindAll("#new-key"));
        Assert.DoesNotContain(NewKey, page.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_registry_s_errors_are_shown_next_to_their_fields()
    {
        await SignInAsync("root", "admin");
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Checkout));
        Registry.Invalid("POST", Keys, "The API key request is not valid.",
            """{ "models[0]": ["there is no model named 'nope'."], "name": ["must be at most 100 printable characters."] }""");
        var page = Render<KeysPage>();
        page.WaitForElement("table.keys");

        page.Find("#key-name").Input("scorer");
        page.Find("#key-role-predictor").Change(true);
        page.Find("#key-models").Input("nope");
        page.Find("form.create-key").Submit();

        page.WaitForAssertion(() => Assert.Equal("there is no model named 'nope'.", Text(page.Find("#key-models-error"))));
        Assert.Equal("must be at most 100 printable characters.", Text(page.Find("#key-name-error")));
        Assert.Equal("The control plane answered HTTP 400: The API key request is not valid.", Text(page.Find("form.create-key .problem p")));
        Assert.Empty(page.FindAll("#new-key"));
    }

    [Fact]
    public async Task Revoking_asks_first_then_deletes_with_the_admin_s_key_and_shows_the_key_revoked()
    {
        await SignInAsync("root", "admin");
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Checkout, Old));
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Key(CheckoutId, "checkout", """["predictor"]""", revoked: "\"2026-01-05T00:00:00+00:00\""), Old));
        Registry.Answer("DELETE", $"{Keys}/{CheckoutId}", HttpStatusCode.NoContent);
        var page = Render<KeysPage>();
        page.WaitForElement("table.keys tbody tr button");

        page.Find("table.keys tbody tr button").Click();

        Assert.Equal("Revoke the key “checkout” (predictor)? Whatever uses it gets 401 from its next request; this cannot be undone.", Text(page.Find("#confirm-revoke")));
        Assert.DoesNotContain(Registry.Sent, r => r.Method == "DELETE");
        page.FindAll("button").Single(b => Text(b) == "Confirm: revoke").Click();

        page.WaitForAssertion(() => Assert.Equal("2026-01-05 00:00:00 UTC", Cells(page.FindAll("table.keys tbody tr")[0])[5]));
        Assert.Empty(page.FindAll("table.keys tbody button"));
        var delete = Assert.Single(Registry.Sent, r => r.Method == "DELETE");
        Assert.Equal(($"{Keys}/{CheckoutId}", OperatorKey), (delete.PathAndQuery, delete.ApiKey));
        Assert.Empty(page.FindAll(".problem"));
        Assert.Empty(Registry.Unexpected);
    }

    [Fact]
    public async Task Revoking_the_last_admin_key_is_refused_in_words()
    {
        await SignInAsync("root", "admin");
        var rootId = "0190a6b2-9999-7000-8000-000000000009";
        Registry.Answer("GET", Keys, HttpStatusCode.OK, List(Key(rootId, "root", """["admin"]""")));
        Registry.Problem($"{Keys}/{rootId}", HttpStatusCode.Conflict, "The last admin key cannot be revoked",
            "Revoking it would leave no key that can manage keys; create another admin key first.");
        var page = Render<KeysPage>();
        page.WaitForElement("table.keys tbody tr button");

        page.Find("table.keys tbody tr button").Click();
        Assert.Contains("It is the key you signed in with", Text(page.Find("#confirm-revoke")), StringComparison.Ordinal);
        page.FindAll("button").Single(b => Text(b) == "Confirm: revoke").Click();

        page.WaitForAssertion(() => Assert.Equal(
            "The control plane answered HTTP 409: Revoking it would leave no key that can manage keys; create another admin key first.",
            Text(page.Find(".problem p"))));
    }
}
