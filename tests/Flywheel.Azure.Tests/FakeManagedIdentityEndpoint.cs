using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Flywheel.Azure.Tests;

/// <summary>
/// Stands in for the managed identity endpoint that Azure Container Apps (and App Service) give
/// a container through <c>IDENTITY_ENDPOINT</c> and <c>IDENTITY_HEADER</c>: it answers token
/// requests per resource and records who asked for what.
/// </summary>
internal sealed class FakeManagedIdentityEndpoint : IAsyncDisposable
{
    private readonly Func<string, string> _tokenFor;
    private readonly LoopbackServer _server;

    public FakeManagedIdentityEndpoint(Func<string, string> tokenFor)
    {
        _tokenFor = tokenFor;
        _server = new LoopbackServer("/msi/", AnswerAsync);
    }

    public string Url => _server.BaseUrl + "token";

    public string Secret { get; } = Guid.NewGuid().ToString("N");

    public ConcurrentQueue<(string Resource, string? ClientId)> Requests { get; } = new();

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var resource = request.QueryString["resource"] ?? "";
        if (request.Headers["X-IDENTITY-HEADER"] != Secret || resource.Length == 0)
        {
            context.Response.StatusCode = 400;
            return;
        }

        Requests.Enqueue((resource, request.QueryString["client_id"]));
        var expiresOn = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
        {
            ["access_token"] = _tokenFor(resource),
            ["expires_on"] = expiresOn,
            ["resource"] = resource,
            ["token_type"] = "Bearer",
            ["client_id"] = request.QueryString["client_id"] ?? "",
        });
        context.Response.ContentType = "application/json";
        await context.Response.OutputStream.WriteAsync(body);
    }

    /// <summary>An unsigned JWT with the claims Azurite's OAuth mode checks (audience, issuer, lifetime).</summary>
    public static string StorageToken()
    {
        static string Encode(object value) =>
            Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(value)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Encode(new { alg = "RS256", typ = "JWT" });
        var payload = Encode(new
        {
            aud = "https://storage.azure.com",
            iss = "https://sts.windows.net/ab1f708d-50f6-404c-a006-d71b2ac7a606/",
            iat = now - 60,
            nbf = now - 60,
            exp = now + 3600,
            oid = "0b2d4a57-1d4e-4b47-a2ad-2c1b2d16b8b2",
            tid = "ab1f708d-50f6-404c-a006-d71b2ac7a606",
        });
        return $"{header}.{payload}.{Convert.ToBase64String(Encoding.ASCII.GetBytes("unsigned")).TrimEnd('=')}";
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
