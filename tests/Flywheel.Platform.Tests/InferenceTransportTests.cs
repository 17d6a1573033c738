using Flywheel.Inference.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The inference worker's inline connections on this runtime: with them, a connection's requests
/// run on the socket event thread that received them; without, on the thread pool.
/// </summary>
public sealed class InferenceTransportTests
{
    [Fact]
    public void This_runtime_lets_one_socket_complete_on_its_event_thread()
    {
        Assert.True(InlineConnections.Supported);
    }

    [Theory]
    [InlineData(true, ".NET Sockets")]
    [InlineData(false, ".NET TP Worker")]
    public async Task A_connections_requests_run_on_its_socket_event_thread_only_when_inline(bool enabled, string thread)
    {
        var eventThreads = Environment.GetEnvironmentVariable(InlineConnections.EventThreadsVariable);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            Assert.Equal(enabled, InlineConnections.Use(builder.WebHost, enabled));
            await using var app = builder.Build();
            app.MapPost("/thread", async (HttpContext context) =>
            {
                using var body = new StreamReader(context.Request.Body);
                return $"{context.Connection.Id}|{await body.ReadToEndAsync()}|{Thread.CurrentThread.Name}";
            });
            await app.StartAsync();

            // Requests one after another on one connection (a busy machine may make the client
            // open another): the socket is switched once it is accepted, so a connection's first
            // request's bytes may already have been taken by a pool thread. Every later one counts.
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri(app.Urls.Single()) };
            var answers = new List<string[]>();
            for (var i = 0; i < 8; i++)
            {
                using var response = await client.PostAsync("/thread", new StringContent($"request {i}"));
                answers.Add((await response.Content.ReadAsStringAsync()).Split('|'));
            }

            var later = answers.Select((answer, i) => (Connection: answer[0], Body: answer[1], Thread: answer[2], Index: i))
                .GroupBy(answer => answer.Connection)
                .SelectMany(connection => connection.Skip(1))
                .ToList();
            Assert.True(later.Count >= 4, $"only {later.Count} requests followed another on their connection");
            Assert.All(later, answer => Assert.Equal(($"request {answer.Index}", thread), (answer.Body, answer.Thread)));
        }
        finally
        {
            Environment.SetEnvironmentVariable(InlineConnections.EventThreadsVariable, eventThreads);
        }
    }
}
