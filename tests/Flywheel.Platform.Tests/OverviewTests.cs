using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>
/// <c>GET /api/overview</c> against real traffic: predictions through the gateway to a deployed
/// canary, failed rows and monitoring reports in the real store, and what the overview makes of
/// them — counts, error rate, latency percentiles, the per-minute series, the split, the latest
/// drift verdict and live metric.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class OverviewTests(PlatformFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);
    private readonly FlywheelApp _flywheel = fixture.Flywheel;
    private HttpClient _gateway = null!;

    public Task InitializeAsync()
    {
        _gateway = _flywheel.AdminGateway();
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _gateway.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_deployed_canary_s_traffic_errors_latency_series_drift_and_live_metric_are_summed_from_the_store()
    {
        var model = await _gateway.DefineModelAsync("overview", TrainingData.FraudModel);
        var idle = await _gateway.DefineModelAsync("overview-idle", TrainingData.FraudModel);
        await TrainingData.UploadAsync(_gateway, model, TrainingData.FraudCsv(1_000, seed: 5));
        foreach (var seed in new[] { 1, 2 })
        {
            var run = await TrainingData.WaitForRunAsync(_gateway, await TrainingData.StartRunAsync(_gateway, model, new { trainer = "fasttree", seed }), RunTimeout);
            Assert.Equal(seed, run.GetProperty("version").GetInt32());
        }

        await DeployAsync(model);
        const int Sent = 40;
        for (var i = 0; i < Sent; i++)
        {
            using var response = await _gateway.PostAsync($"/v1/models/{model}:predict", new StringContent(
                $$"""{ "instances": [ { "amount": {{10 + i}}, "merchant_category": "online", "is_online": true, "hour": 2, "entity_id": "card-{{i}}" } ] }""",
                Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Failed rows as the workers write them: three single-row failures of v1, one two-row batch of v2, and a shadow failure that is no answer.
        await using var database = await _flywheel.OpenDatabaseAsync();
        await ExecuteAsync(database, """
            INSERT INTO inference.prediction_errors (model, version, shadow, rows, status, error)
            VALUES ($1, 1, false, 1, 500, 'boom'), ($1, 1, false, 1, 500, 'boom'), ($1, 1, false, 1, 500, 'boom'), ($1, 2, false, 2, 500, 'boom'), ($1, 2, true, 5, 500, 'boom')
            """, model);
        var (older, newer) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        await InsertReportAsync(database, model, older, DateTimeOffset.UtcNow.AddMinutes(-10), drifted: false, """
            { "features": [ { "name": "amount", "drifted": false } ],
              "performance": { "metric": "auc", "value": 0.83, "ci_low": 0.79, "ci_high": 0.87, "confidence": 0.95, "labelled_rows": 250, "degraded": false } }
            """);
        await InsertReportAsync(database, model, newer, DateTimeOffset.UtcNow.AddMinutes(-1), drifted: true, """
            { "features": [ { "name": "amount", "drifted": true }, { "name": "merchant_category", "drifted": false, "missing_rate_drifted": true },
                            { "name": "is_online", "drifted": false }, { "name": "hour", "drifted": false } ],
              "performance": null }
            """);

        // The prediction log is written asynchronously: wait until every answer is there.
        JsonElement overview = default, entry = default;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            overview = await _gateway.GetFromJsonAsync<JsonElement>("/api/overview");
            entry = overview.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == model);
            if (entry.GetProperty("traffic").GetProperty("requests").GetInt64() >= Sent)
            {
                break;
            }

            await Task.Delay(250);
        }

        Assert.Equal(300, overview.GetProperty("window_seconds").GetInt32());
        Assert.Equal("binary", entry.GetProperty("task").GetString());
        var traffic = entry.GetProperty("traffic");
        Assert.Equal(Sent, traffic.GetProperty("requests").GetInt64());
        Assert.Equal(Sent / 300.0, traffic.GetProperty("rate_per_second").GetDouble(), 9);
        Assert.Equal(5, traffic.GetProperty("errors").GetInt64());
        Assert.Equal(5.0 / (Sent + 5), traffic.GetProperty("error_rate").GetDouble(), 9);

        // The percentiles lie within what the log holds, and agree with Postgres computing them itself.
        var (min, max, p95) = await LatenciesAsync(database, model, version: null);
        var p95Ms = traffic.GetProperty("p95_ms").GetDouble();
        Assert.InRange(p95Ms, min / 1000.0, max / 1000.0);
        Assert.Equal(p95 / 1000.0, p95Ms, 6);
        Assert.InRange(traffic.GetProperty("p50_ms").GetDouble(), min / 1000.0, p95Ms);

        var versions = entry.GetProperty("versions").EnumerateArray().ToDictionary(v => v.GetProperty("version").GetInt32());
        Assert.Equal([1, 2], versions.Keys.Order());
        Assert.Equal(Sent, versions.Values.Sum(v => v.GetProperty("requests").GetInt64()));
        foreach (var (version, row) in versions)
        {
            Assert.Equal(await CountAsync(database, model, version), row.GetProperty("requests").GetInt64());
            var (versionMin, versionMax, _) = await LatenciesAsync(database, model, version);
            if (row.GetProperty("requests").GetInt64() > 0)
            {
                Assert.InRange(row.GetProperty("p95_ms").GetDouble(), versionMin / 1000.0, versionMax / 1000.0);
            }
        }

        Assert.Equal(3, versions[1].GetProperty("errors").GetInt64());
        Assert.Equal(2, versions[2].GetProperty("errors").GetInt64());

        var series = entry.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal(30, series.Count);
        Assert.Equal(Sent, series.Sum(p => p.GetProperty("requests").GetInt64()));
        Assert.Equal(5, series.Sum(p => p.GetProperty("errors").GetInt64()));
        var minutes = series.Select(p => p.GetProperty("minute").GetDateTimeOffset()).ToList();
        Assert.All(minutes.Zip(minutes.Skip(1)), pair => Assert.Equal(TimeSpan.FromMinutes(1), pair.Second - pair.First));
        Assert.All(series.Where(p => p.GetProperty("requests").GetInt64() > 0),
            p => Assert.InRange(p.GetProperty("p95_ms").GetDouble(), min / 1000.0, max / 1000.0));

        var deployment = entry.GetProperty("deployment");
        Assert.Equal(1, deployment.GetProperty("production").GetInt32());
        Assert.Equal(75, deployment.GetProperty("production_percent").GetDouble());
        Assert.Equal(2, deployment.GetProperty("canary").GetProperty("version").GetInt32());
        Assert.Equal(25, deployment.GetProperty("canary").GetProperty("percent").GetDouble());
        Assert.Equal(JsonValueKind.Null, deployment.GetProperty("shadow").ValueKind);

        // The newest report gives the verdict; the live metric comes from the newest report that measured one.
        var drift = entry.GetProperty("drift");
        Assert.Equal(newer, drift.GetProperty("report_id").GetGuid());
        Assert.True(drift.GetProperty("drifted").GetBoolean());
        Assert.Equal(2, drift.GetProperty("features_drifted").GetInt32());
        Assert.Equal(4, drift.GetProperty("features").GetInt32());
        var live = entry.GetProperty("live_metric");
        Assert.Equal(older, live.GetProperty("report_id").GetGuid());
        Assert.Equal("auc", live.GetProperty("metric").GetString());
        Assert.Equal(0.83, live.GetProperty("value").GetDouble());
        Assert.Equal(0.79, live.GetProperty("ci_low").GetDouble());
        Assert.Equal(0.87, live.GetProperty("ci_high").GetDouble());
        Assert.Equal(250, live.GetProperty("labelled_rows").GetInt64());

        // A model that never served: no deployment, nothing counted, a flat series, no verdict.
        var quiet = overview.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == idle);
        Assert.Equal(JsonValueKind.Null, quiet.GetProperty("deployment").ValueKind);
        Assert.Equal(0, quiet.GetProperty("traffic").GetProperty("requests").GetInt64());
        Assert.Equal(JsonValueKind.Null, quiet.GetProperty("traffic").GetProperty("error_rate").ValueKind);
        Assert.Equal(JsonValueKind.Null, quiet.GetProperty("traffic").GetProperty("p95_ms").ValueKind);
        Assert.Empty(quiet.GetProperty("versions").EnumerateArray());
        Assert.All(quiet.GetProperty("series").EnumerateArray(), p => Assert.Equal(0, p.GetProperty("requests").GetInt64()));
        Assert.Equal(JsonValueKind.Null, quiet.GetProperty("drift").ValueKind);
        Assert.Equal(JsonValueKind.Null, quiet.GetProperty("live_metric").ValueKind);

        // A longer window takes the same traffic over more seconds.
        var hour = await _gateway.GetFromJsonAsync<JsonElement>("/api/overview?window=3600");
        var hourly = hour.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == model).GetProperty("traffic");
        Assert.Equal(Sent, hourly.GetProperty("requests").GetInt64());
        Assert.Equal(Sent / 3600.0, hourly.GetProperty("rate_per_second").GetDouble(), 9);
    }

    [Theory]
    [InlineData("59")]
    [InlineData("3601")]
    [InlineData("five")]
    [InlineData("-300")]
    public async Task A_window_outside_a_minute_to_an_hour_is_refused_by_field(string window)
    {
        using var anonymous = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        using var response = await anonymous.GetAsync($"/api/overview?window={window}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Contains(window, errors.GetProperty("window")[0].GetString(), StringComparison.Ordinal);
    }

    /// <summary>Production v1 with v2 as a 25% canary, written as the registry writes it, then waits until both versions answer.</summary>
    private async Task DeployAsync(string model)
    {
        await using (var database = await _flywheel.OpenDatabaseAsync())
        {
            await ExecuteAsync(database, """
                INSERT INTO registry.deployments (model, revision, production, canary_version, canary_percent, updated_by)
                VALUES ($1, 1, 1, 2, 25, 'overview-tests')
                """, model);
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            using var one = await _gateway.GetAsync($"/v2/models/{model}/versions/1/ready");
            using var two = await _gateway.GetAsync($"/v2/models/{model}/versions/2/ready");
            if (one.StatusCode == HttpStatusCode.OK && two.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"versions 1 and 2 of {model} did not serve within 60 s");
    }

    private static async Task InsertReportAsync(NpgsqlConnection database, string model, Guid reportId, DateTimeOffset at, bool drifted, string report)
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO monitoring.reports (report_id, model, version, window_from, window_to, rows, drifted, performance_degraded, report, trigger, created_at)
            VALUES ($1, $2, 1, $3, $3, 100, $4, false, $5::jsonb, 'manual', $3)
            """, database);
        insert.Parameters.Add(new NpgsqlParameter { Value = reportId });
        insert.Parameters.Add(new NpgsqlParameter { Value = model });
        insert.Parameters.Add(new NpgsqlParameter { Value = at });
        insert.Parameters.Add(new NpgsqlParameter { Value = drifted });
        insert.Parameters.Add(new NpgsqlParameter { Value = report });
        await insert.ExecuteNonQueryAsync();
    }

    private static async Task ExecuteAsync(NpgsqlConnection database, string sql, string model)
    {
        await using var command = new NpgsqlCommand(sql, database);
        command.Parameters.Add(new NpgsqlParameter { Value = model });
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> CountAsync(NpgsqlConnection database, string model, int version)
    {
        await using var count = new NpgsqlCommand("SELECT count(*) FROM inference.predictions WHERE model = $1 AND version = $2 AND NOT shadow", database);
        count.Parameters.Add(new NpgsqlParameter { Value = model });
        count.Parameters.Add(new NpgsqlParameter { Value = version });
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>The smallest and largest logged latency and the 95th percentile, in µs.</summary>
    private static async Task<(double Min, double Max, double P95)> LatenciesAsync(NpgsqlConnection database, string model, int? version)
    {
        await using var query = new NpgsqlCommand("""
            SELECT min(latency_us)::double precision, max(latency_us)::double precision, percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_us)
            FROM inference.predictions WHERE model = $1 AND ($2::integer IS NULL OR version = $2) AND NOT shadow
            """, database);
        query.Parameters.Add(new NpgsqlParameter { Value = model });
        query.Parameters.Add(new NpgsqlParameter { Value = (object?)version ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        await using var reader = await query.ExecuteReaderAsync();
        await reader.ReadAsync();
        return reader.IsDBNull(0) ? (0, 0, 0) : (reader.GetDouble(0), reader.GetDouble(1), reader.GetDouble(2));
    }
}
