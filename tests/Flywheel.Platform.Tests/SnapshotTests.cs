using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Contracts;
using Flywheel.Core.Snapshots;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>Snapshots freeze the labelled rows of a window with the SHA-256 of their canonical encoding.</summary>
[Collection(SharedPlatform.Name)]
public sealed class SnapshotTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    private async Task<(HttpClient Gateway, string Model)> ModelWithRowsAsync()
    {
        var gateway = _flywheel.AdminGateway();
        var name = await gateway.DefineModelAsync("s", """
            { "name": "{name}", "task": "binary",
              "features": [ { "name": "amount", "type": "numeric" }, { "name": "city", "type": "categorical", "nullable": true } ],
              "target": { "name": "churned", "type": "boolean" } }
            """);
        var csv = """
            event_id,event_time,amount,city,churned
            a,2026-01-03T00:00:00Z,3.25,paris,1
            b,2026-01-01T00:00:00Z,1,,0
            c,2026-01-02T00:00:00Z,2.5,rome,
            d,2026-02-01T00:00:00Z,4,oslo,0

            """;
        using var upload = await gateway.PostAsync($"/api/models/{name}/data", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        return (gateway, name);
    }

    private static async Task<JsonElement> SnapshotAsync(HttpClient gateway, string model, object? window = null)
    {
        using var response = await gateway.PostAsJsonAsync($"/api/models/{model}/snapshots", window ?? new { });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task A_snapshot_holds_the_labelled_rows_of_its_window_in_event_time_order_with_their_canonical_hash()
    {
        var (gateway, model) = await ModelWithRowsAsync();

        var snapshot = await SnapshotAsync(gateway, model, new { from = "2026-01-01T00:00:00Z", to = "2026-02-01T00:00:00Z" });

        // Row c has no label and row d is outside the window; b comes before a by event time.
        using var expected = new SnapshotHash();
        expected.Add(DateTimeOffset.Parse("2026-01-01T00:00:00Z"), new Dictionary<string, object?> { ["amount"] = 1.0, ["city"] = null }, false);
        expected.Add(DateTimeOffset.Parse("2026-01-03T00:00:00Z"), new Dictionary<string, object?> { ["amount"] = 3.25, ["city"] = "paris" }, true);
        Assert.Equal(2, snapshot.GetProperty("rows").GetInt64());
        Assert.Equal(expected.Finish(), snapshot.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task The_same_rows_give_the_same_hash_and_new_data_never_changes_an_existing_snapshot()
    {
        var (gateway, model) = await ModelWithRowsAsync();
        var first = await SnapshotAsync(gateway, model);
        var again = await SnapshotAsync(gateway, model);
        Assert.Equal(first.GetProperty("sha256").GetString(), again.GetProperty("sha256").GetString());

        using var more = await gateway.PostAsync($"/api/models/{model}/data",
            new StringContent("event_id,event_time,amount,city,churned\ne,2026-01-05T00:00:00Z,9,lima,1\n", Encoding.UTF8, "text/csv"));
        var later = await SnapshotAsync(gateway, model);
        var verified = await gateway.GetFromJsonAsync<JsonElement>($"/api/models/{model}/snapshots/{first.GetProperty("snapshot_id").GetString()}?verify=true");

        Assert.Equal(first.GetProperty("rows").GetInt64() + 1, later.GetProperty("rows").GetInt64());
        Assert.NotEqual(first.GetProperty("sha256").GetString(), later.GetProperty("sha256").GetString());
        Assert.True(verified.GetProperty("verified").GetBoolean());
        Assert.Equal(first.GetProperty("rows").GetInt64(), verified.GetProperty("rows").GetInt64());
    }

    [Fact]
    public async Task Snapshot_rows_cannot_be_changed_in_the_store()
    {
        var (gateway, model) = await ModelWithRowsAsync();
        var snapshot = await SnapshotAsync(gateway, model);
        await using var connection = await _flywheel.OpenDatabaseAsync();
        await using var tamper = new NpgsqlCommand("UPDATE registry.snapshot_rows SET target = 'true' WHERE snapshot_id = $1", connection);
        tamper.Parameters.Add(new NpgsqlParameter { Value = Guid.Parse(snapshot.GetProperty("snapshot_id").GetString()!) });

        var error = await Assert.ThrowsAsync<PostgresException>(() => tamper.ExecuteNonQueryAsync());

        Assert.Contains("immutable", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_window_that_ends_before_it_starts_is_refused()
    {
        var (gateway, model) = await ModelWithRowsAsync();

        using var response = await gateway.PostAsJsonAsync($"/api/models/{model}/snapshots", new { from = "2026-02-01T00:00:00Z", to = "2026-01-01T00:00:00Z" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
