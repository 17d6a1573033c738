using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Flywheel.Contracts;

namespace Flywheel.Azure.Tests;

/// <summary>
/// The gateway configured for Azure Cache for Redis with Entra sign-in (a connection string with
/// the identity's principal id as user and no password) against a local Redis whose ACL has that
/// user, with the token the stand-in identity endpoint issues as its password.
/// </summary>
public sealed class RedisIdentityTests : IAsyncLifetime
{
    private readonly string _token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
    private readonly string _principalId = Guid.NewGuid().ToString();
    private readonly LocalRedis _redis = new();

    // Azure Cache for Redis knows the identity as a user named by its principal id.
    public Task InitializeAsync() => _redis.CliAsync("ACL", "SETUSER", _principalId, "on", $">{_token}", "~*", "&*", "+@all");

    [Fact]
    public async Task The_gateway_signs_in_to_Redis_as_its_managed_identity()
    {
        var clientId = Guid.NewGuid().ToString();
        await using var identity = new FakeManagedIdentityEndpoint(resource =>
            resource.StartsWith("https://redis.azure.com", StringComparison.Ordinal) ? _token : "wrong-resource");
        var port = Ports.Free();
        await using var gateway = LocalProcess.Start(
            "dotnet",
            [Repository.Path("Services", "Gateway", "bin", Repository.Metadata("Configuration"), "net10.0", "Flywheel.Gateway.dll")],
            new Dictionary<string, string>
            {
                [$"ConnectionStrings__{ResourceNames.OnlineStore}"] = $"127.0.0.1:{_redis.Port},user={_principalId},abortConnect=false",
                // The gateway also reads keys and deployments from PostgreSQL; this test needs none,
                // so it gets an address nothing listens on (the gateway starts and reports it unhealthy).
                [$"ConnectionStrings__{ResourceNames.Database}"] = "Host=127.0.0.1;Port=9;Username=flywheel;Password=unused;Timeout=2",
                ["AZURE_CLIENT_ID"] = clientId,
                ["IDENTITY_ENDPOINT"] = identity.Url,
                ["IDENTITY_HEADER"] = identity.Secret,
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
            });

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        JsonElement? health = null;
        for (var attempt = 0; attempt < 120 && health is null; attempt++)
        {
            try
            {
                using var response = await http.GetAsync(HealthEndpoints.Health);
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (body.GetProperty("checks").GetProperty("StackExchange.Redis").GetProperty("status").GetString() == "Healthy")
                {
                    health = body;
                }
            }
            catch (HttpRequestException)
            {
                // Still starting.
            }

            if (health is null)
            {
                await Task.Delay(500);
            }
        }

        Assert.True(health is not null, "the gateway never reached Redis:\n" + gateway.Output);
        Assert.Contains(identity.Requests, r => r.Resource.StartsWith("https://redis.azure.com", StringComparison.Ordinal) && r.ClientId == clientId);
        // Redis itself says who is connected.
        Assert.Contains($"user={_principalId}", await _redis.CliAsync("CLIENT", "LIST"), StringComparison.Ordinal);
    }

    public async Task DisposeAsync() => await _redis.DisposeAsync();
}
