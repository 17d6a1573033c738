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
    private readonly HttpListener _listener = new();
    private readonly Func<string, string> _tokenFor;
    private readonly Task _serving;

    public FakeManagedIdentityEndpoint(Func<string, string> tokenFor)
    {
        _tokenFor = tokenFor;
        var port = Ports.Free();
        Url = $"http://127.0.0.1:{port}/msi/token";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/msi/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public string Secret { get; } = Guid.NewGuid().ToString("N");

    public ConcurrentQueue<(string Resource, string? ClientId)> Requests { get; } = new();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var request = context.Request;
            var resource = request.QueryString["resource"] ?? "";
            if (request.Headers["X-IDENTITY-HEADER"] != Secret || resource.Length == 0)
            {
                context.Response.StatusCode = 400;
                context.Response.Close();
                continue;
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
            context.Response.Close();
        }
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

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
    }
}
