using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using Flywheel.Contracts;

namespace Flywheel.Azure.Tests;

/// <summary>
/// With an Application Insights connection string, a service exports its telemetry there: a
/// stand-in ingestion endpoint on loopback receives the gateway's requests as Application
/// Insights envelopes.
/// </summary>
public sealed class ApplicationInsightsTests
{
    [Fact]
    public async Task A_service_with_an_Application_Insights_connection_string_sends_its_telemetry_there()
    {
        await using var redis = new LocalRedis();
        var received = new ConcurrentQueue<string>();
        await using var ingestion = new LoopbackServer("/", async context =>
        {
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
        });

        var port = Ports.Free();
        await using var gateway = LocalProcess.Start(
            "dotnet",
            [Repository.Path("Services", "Gateway", "bin", Repository.Metadata("Configuration"), "net10.0", "Flywheel.Gateway.dll")],
            new Dictionary<string, string>
            {
                [$"ConnectionStrings__{ResourceNames.OnlineStore}"] = $"127.0.0.1:{redis.Port},password={redis.Password},abortConnect=false",
                // The gateway also reads keys and deployments from PostgreSQL; this test needs none,
                // so it gets an address nothing listens on (the gateway starts and reports it unhealthy).
                [$"ConnectionStrings__{ResourceNames.Database}"] = "Host=127.0.0.1;Port=9;Username=flywheel;Password=unused;Timeout=2",
                ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = $"InstrumentationKey={Guid.NewGuid()};IngestionEndpoint={ingestion.BaseUrl}",
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
            });
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

            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        Assert.True(
            received.Any(r => r.Contains("RequestData", StringComparison.Ordinal) && r.Contains("/api/info", StringComparison.Ordinal)),
            $"no request telemetry reached the ingestion endpoint; received {received.Count} posts:\n{string.Join("\n", received.Take(3))}\n{gateway.Output}");
        Assert.All(received, r => Assert.StartsWith("/v2.1/track", r, StringComparison.Ordinal));
    }
}
