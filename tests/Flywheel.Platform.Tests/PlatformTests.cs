using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Storage.Blobs;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>The whole platform comes up on real PostgreSQL, Redis, RabbitMQ and Azurite, and the gateway routes every prefix.</summary>
/// <remarks>These tests only read, so they share one running platform.</remarks>
[Collection(SharedPlatform.Name)]
public sealed class PlatformTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task Every_service_reports_healthy_with_checks_that_touch_its_dependencies()
    {
        var expected = new Dictionary<string, string[]>
        {
            [ResourceNames.Gateway] = [PostgresCheck, RedisCheck],
            [ResourceNames.Registry] = [PostgresCheck, RedisCheck, ResourceNames.Artifacts, BusCheck],
            [ResourceNames.Inference] = [PostgresCheck, RedisCheck, ResourceNames.Artifacts, BusCheck],
            [ResourceNames.Orchestrator] = [PostgresCheck, BusCheck],
            [ResourceNames.Trainer] = [PostgresCheck, ResourceNames.Artifacts, BusCheck],
            [ResourceNames.DriftMonitor] = [PostgresCheck, BusCheck],
            [ResourceNames.Console] = [],
        };

        foreach (var (service, dependencies) in expected)
        {
            using var client = _flywheel.CreateClient(service);
            // Other tests share this platform and restart services in it: a service may still be
            // reconnecting, so it gets half a minute to report healthy before the checks are read.
            var health = await _flywheel.WaitForHealthAsync(service, h => h.StatusCode == 200 && h.Status == "Healthy", TimeSpan.FromSeconds(30));

            Assert.True(health.StatusCode == 200 && health.Status == "Healthy", $"{service}: {health}");
            foreach (var dependency in dependencies)
            {
                Assert.True(health.Checks.TryGetValue(dependency, out var status) && status == "Healthy", $"{service} lacks a healthy '{dependency}' check: {health}");
            }

            using var alive = await client.GetAsync(HealthEndpoints.Alive);
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }
    }

    [Fact]
    public async Task The_gateway_routes_api_to_the_registry_v1_and_v2_to_inference_and_the_rest_to_the_console()
    {
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);

        var info = await gateway.GetFromJsonAsync<JsonElement>("/api/info");
        Assert.Equal("flywheel-registry", info.GetProperty("service").GetString());

        var models = await gateway.GetFromJsonAsync<JsonElement>("/v1/models");
        Assert.Equal(JsonValueKind.Array, models.GetProperty("models").ValueKind);

        using var unknownModel = await gateway.GetAsync("/v1/models/no-such-model");
        Assert.Equal(HttpStatusCode.NotFound, unknownModel.StatusCode);
        Assert.Equal("application/problem+json", unknownModel.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-such-model", await unknownModel.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var server = await gateway.GetFromJsonAsync<JsonElement>("/v2");
        Assert.Equal("flywheel-inference", server.GetProperty("name").GetString());
        var ready = await gateway.GetFromJsonAsync<JsonElement>("/v2/health/ready");
        Assert.True(ready.GetProperty("ready").GetBoolean());

        var page = await gateway.GetStringAsync("/");
        Assert.Contains("<title>Overview · Flywheel</title>", page, StringComparison.Ordinal);
        // Rendered on the server from the registry's answer: the console reached the control plane.
        Assert.Contains("flywheel-registry", page, StringComparison.Ordinal);

        var openApi = await gateway.GetFromJsonAsync<JsonElement>("/api/openapi/v1.json");
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/api/info", out _));
        var docs = await gateway.GetStringAsync("/api/docs/");
        Assert.Contains("<title>Flywheel API</title>", docs, StringComparison.Ordinal);
        Assert.Contains("api/openapi/v1.json", docs, StringComparison.Ordinal);
        // The reference UI is served by the registry itself, not fetched from a CDN.
        using var script = await gateway.GetAsync("/api/docs/scalar.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    [Fact]
    public async Task Health_endpoints_through_the_gateway_are_the_gateways_own_never_a_services()
    {
        using var gateway = _flywheel.CreateClient(ResourceNames.Gateway);

        var health = await FlywheelApp.GetHealthAsync(gateway);

        // The gateway depends on PostgreSQL (keys, deployments) and Redis (quotas) only; every
        // service behind it also reports the message bus.
        Assert.Equal(200, health.StatusCode);
        Assert.Contains(RedisCheck, health.Checks.Keys);
        Assert.Contains(PostgresCheck, health.Checks.Keys);
        Assert.DoesNotContain(BusCheck, health.Checks.Keys);
        using var apiHealth = await gateway.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.NotFound, apiHealth.StatusCode);
    }

    [Fact]
    public async Task The_migrator_creates_each_services_schema_and_the_private_blob_containers()
    {
        await using var connection = new NpgsqlConnection(await _flywheel.ConnectionStringAsync(ResourceNames.Database));
        await connection.OpenAsync();
        await using var schemas = new NpgsqlCommand(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY($1)", connection);
        schemas.Parameters.Add(new NpgsqlParameter { Value = DatabaseSchemas.All.ToArray() });
        var found = new List<string>();
        await using (var reader = await schemas.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                found.Add(reader.GetString(0));
            }
        }

        Assert.Equal(DatabaseSchemas.All.Order(), found.Order());

        await using var history = new NpgsqlCommand("SELECT id FROM public.schema_migrations ORDER BY id", connection);
        Assert.Equal("0001_schemas", await history.ExecuteScalarAsync());

        var blobs = new BlobServiceClient(await _flywheel.ConnectionStringAsync(ResourceNames.Artifacts));
        foreach (var name in BlobContainers.All)
        {
            var properties = await blobs.GetBlobContainerClient(name).GetPropertiesAsync();
            Assert.Equal(Azure.Storage.Blobs.Models.PublicAccessType.None, properties.Value.PublicAccess ?? Azure.Storage.Blobs.Models.PublicAccessType.None);
        }
    }

    internal const string PostgresCheck = "PostgreSql";
    internal const string RedisCheck = "StackExchange.Redis";
    internal const string BusCheck = "masstransit-bus";
}
