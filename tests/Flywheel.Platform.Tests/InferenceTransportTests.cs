using System.Globalization;
using System.Net;
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
            // open another), each after a short pause so that the server has posted its next read.
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri(app.Urls.Single()) };
            var answers = new List<(string Connection, string Body, string Thread, int Index)>();
            for (var i = 0; i < 8; i++)
            {
                await Task.Delay(20);
                using var response = await client.PostAsync("/thread", new StringContent($"request {i}"));
                var answer = (await response.Content.ReadAsStringAsync()).Split('|');
                answers.Add((answer[0], answer[1], answer[2], i));
            }

            Assert.All(answers, answer => Assert.Equal($"request {answer.Index}", answer.Body));
            var connections = answers.GroupBy(answer => answer.Connection).ToList();
            if (enabled)
            {
                // Kestrel starts reading a connection before the switch: bytes already there are
                // read at once on the accepting pool thread, and that thread goes on reading while
                // each next request arrives before it is back (a busy machine). Once a read has
                // waited for its bytes, they come on the event thread, and so does every later
                // request of that connection.
                var fromEventThread = connections.SelectMany(connection => connection.SkipWhile(answer => answer.Thread != thread)).ToList();
                Assert.True(fromEventThread.Count >= 4, $"only {fromEventThread.Count} of 8 requests ran on the event thread: {string.Join(", ", answers.Select(answer => answer.Thread))}");
                Assert.All(fromEventThread, answer => Assert.Equal(thread, answer.Thread));
            }
            else
            {
                var later = connections.SelectMany(connection => connection.Skip(1)).ToList();
                Assert.True(later.Count >= 4, $"only {later.Count} requests followed another on their connection");
                Assert.All(later, answer => Assert.Equal(thread, answer.Thread));
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(InlineConnections.EventThreadsVariable, eventThreads);
        }
    }

    [Fact]
    public async Task A_large_or_unsized_body_is_handled_on_the_thread_pool_and_a_small_one_on_the_event_thread()
    {
        var eventThreads = Environment.GetEnvironmentVariable(InlineConnections.EventThreadsVariable);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            Assert.True(InlineConnections.Use(builder.WebHost, enabled: true));
            await using var app = builder.Build();
            app.MapPost("/parse", async (HttpContext context) =>
            {
                var (body, problem) = await Requests.ReadJsonAsync(context.Request, maxBytes: 256 * 1024, inlineBytes: 1024, context.RequestAborted);
                // As the predict, infer and feedback handlers do.
                await Requests.ContinueOnThreadPool(context.Request, inlineBytes: 1024);
                if (body is null)
                {
                    return (IResult)problem!;
                }

                using (body)
                {
                    return Results.Text($"{context.Connection.Id}|{body.RootElement.GetArrayLength()}|{Thread.CurrentThread.Name}");
                }
            });
            await app.StartAsync();

            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri(app.Urls.Single()) };
            var answers = new List<(string Case, string Connection, int Count, string Thread)>();
            for (var round = 0; round < 4; round++)
            {
                foreach (var (name, count, sized) in new[] { ("small", 10, true), ("large", 2_000, true), ("unsized", 10, false) })
                {
                    await Task.Delay(20);
                    using var response = await client.PostAsync("/parse", Json(count, sized));
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    var answer = (await response.Content.ReadAsStringAsync()).Split('|');
                    answers.Add((name, answer[0], int.Parse(answer[1], CultureInfo.InvariantCulture), answer[2]));
                }
            }

            // Every body parsed whole, wherever it was parsed.
            Assert.All(answers, answer => Assert.Equal(answer.Case == "large" ? 2_000 : 10, answer.Count));
            // A large or unsized body always moves to the pool, even a connection's first.
            Assert.All(answers.Where(answer => answer.Case != "small"), answer => Assert.Equal(".NET TP Worker", answer.Thread));
            // A small one stays on the event thread once its connection's reads have come there
            // (see above), the large and unsized ones in between notwithstanding.
            // By position, not by value: two answers of the same case on the same thread are equal tuples.
            var firsts = answers.Select((answer, index) => (answer.Connection, index)).GroupBy(answer => answer.Connection).Select(connection => connection.First().index).ToHashSet();
            var later = answers.Where((answer, index) => answer.Case == "small" && !firsts.Contains(index))
                .GroupBy(answer => answer.Connection)
                .SelectMany(connection => connection.SkipWhile(answer => answer.Thread != ".NET Sockets"))
                .ToList();
            Assert.True(later.Count >= 2, $"only {later.Count} small requests ran on the event thread: {string.Join(", ", answers.Select(answer => $"{answer.Case} {answer.Thread}"))}");
            Assert.All(later, answer => Assert.Equal(".NET Sockets", answer.Thread));

            // The body limit still holds for a body sent without a length.
            using var tooLarge = await client.PostAsync("/parse", Json(60_000, sized: false));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
            Assert.Contains("larger than 262144 bytes", await tooLarge.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(InlineConnections.EventThreadsVariable, eventThreads);
        }
    }

    /// <summary>A JSON array of <paramref name="count"/> numbers, with a Content-Length or chunked.</summary>
    private static HttpContent Json(int count, bool sized)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Range(0, count).Select(i => 1000 + i)) + "]");
        HttpContent content = sized ? new ByteArrayContent(bytes) : new UnsizedContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>A body sent chunked, without a Content-Length.</summary>
    private sealed class UnsizedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
