using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Flywheel.Contracts;
using Npgsql;

namespace Flywheel.Platform.Tests;

/// <summary>Calls the control plane through the gateway as the bootstrap admin, and reads what it stored.</summary>
internal static class ControlPlane
{
    public static HttpClient AdminGateway(this FlywheelApp flywheel)
    {
        var gateway = flywheel.CreateClient(ResourceNames.Gateway);
        gateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", flywheel.AdminKey);
        return gateway;
    }

    /// <summary>Defines a model from a JSON template whose <c>{name}</c> is replaced by a fresh unique name, and returns that name.</summary>
    public static async Task<string> DefineModelAsync(this HttpClient gateway, string prefix, string definition)
    {
        var name = prefix + "-" + Guid.NewGuid().ToString("N")[..10];
        using var created = await gateway.PostAsJsonAsync("/api/models", JsonNode.Parse(definition.Replace("{name}", name, StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return name;
    }

    public static async Task<NpgsqlConnection> OpenDatabaseAsync(this FlywheelApp flywheel)
    {
        var connection = new NpgsqlConnection(await flywheel.ConnectionStringAsync(ResourceNames.Database));
        await connection.OpenAsync();
        return connection;
    }
}
