using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Flywheel.Contracts;

namespace Flywheel.Azure.Tests;

/// <summary>
/// With an Application Insights connection string, a service exports its telemetry there: a
/// stand-in ingestion endpoint on loopback receives the gateway's requests as Application
/// Insights envelopes.
/// </summary>
public sealed class ApplicationInsightsTests : IAsyncLifetime
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "flywheel-appinsights-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    private readonly int _redisPort = Ports.Free();
    private LocalProcess _redis = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        var passwordFile = Path.Combine(_work, "redis.password");
        await File.WriteAllTextAsync(passwordFile, _password);
        _redis = LocalProcess.Start("bash", [Repository.Path("AppHost", "local", "redis.sh"), Path.Combine(_work, "redis"), $"{_redisPort}", passwordFile]);
    }

    [Fact]
    public async Task A_service_with_an_Application_Insights_connection_string_sends_its_telemetry_there()
    {
        var ingestionPort = Ports.Free();
        var received = new ConcurrentQueue<string>();
        using var ingestion = new HttpListener();
        ingestion.Prefixes.Add($"http://127.0.0.1:{ingestionPort}/");
        ingestion.Start();
        var serving = Task.Run(async () =>
        {
            while (ingestion.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await ingestion.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                Stream body = context.Request.InputStream;
                if (context.Request.Headers["Content-Encoding"] == "gzip")
                {
                    body = new GZipStream(body, CompressionMode.Decompress);
                }

                using (var reader = new StreamReader(body, Encoding.UTF8))
                {
                    received.Enqueue(context.Request.Url!.AbsolutePath + " " + await reader.ReadToEndAsync());
                }

                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync("{\"itemsReceived\":1,\"itemsAccepted\":1,\"errors\":[]}"u8.ToArray());
                context.Response.Close();
            }
        });

        var port = Ports.Free();
        await using (var gateway = LocalProcess.Start(
            "dotnet",
            [Repository.Path("Services", "Gateway", "bin", Repository.Metadata("Configuration"), "net10.0", "Flywheel.Gateway.dll")],
            new Dictionary<string, string>
            {
                [$"ConnectionStrings__{ResourceNames.OnlineStore}"] = $"127.0.0.1:{_redisPort},password={_password},abortConnect=false",
                ["APPLICATIONINSIGHTS_CONNECTION_STRING"] =
                    $"InstrumentationKey={Guid.NewGuid()};IngestionEndpoint=http://127.0.0.1:{ingestionPort}/",
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
            }))
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && !received.Any(r => r.Contains("RequestData", StringComparison.Ordinal)))
            {
                try
                {
                    // A routed request (traced), not a health probe (kept out of traces).
                    using var _ = await http.GetAsync("/api/info");
                }
                catch (HttpRequestException)
                {
                    // Still starting.
                }

                await Task.Delay(1000);
            }

            Assert.True(
                received.Any(r => r.Contains("RequestData", StringComparison.Ordinal) && r.Contains("/api/info", StringComparison.Ordinal)),
                $"no request telemetry reached the ingestion endpoint; received {received.Count} posts:\n{string.Join("\n", received.Take(3))}\n{gateway.Output}");
            Assert.All(received, r => Assert.StartsWith("/v2.1/track", r, StringComparison.Ordinal));
        }

        ingestion.Stop();
        await serving;
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }
}
