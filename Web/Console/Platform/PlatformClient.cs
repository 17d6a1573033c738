using System.Net.Http.Json;
using System.Text.Json;

namespace Flywheel.Console.Platform;

/// <summary>The console's view of the control plane, through the Registry's API.</summary>
public sealed class PlatformClient(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public async Task<PlatformInfo?> GetInfoAsync(CancellationToken cancellationToken) =>
        await http.GetFromJsonAsync<PlatformInfo>("/api/info", Json, cancellationToken);
}

public sealed record PlatformInfo(string Service, string Version, string Environment);
