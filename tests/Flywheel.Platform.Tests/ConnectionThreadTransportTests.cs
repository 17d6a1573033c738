using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Flywheel.Gateway;
using Flywheel.Gateway.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The gateway's Kestrel transport on real sockets: a connection with a thread of its own runs
/// its requests on that thread, connections past the limit get Kestrel's socket transport, and
/// everything a transport owes Kestrel (large bodies both ways, a client leaving, a server closing
/// or aborting, a graceful stop) works on both.
/// </summary>
public sealed class ConnectionThreadTransportTests : IAsyncLifetime
{
    private readonly List<WebApplication> _running = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var app in _running)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Requests_on_a_kept_alive_connection_run_on_that_connections_own_thread()
    {
        var (_, address, transport) = await StartAsync(threads: 4);
        using var client = OneConnectionClient(address);

        var seen = new List<ThreadSeen>();
        for (var i = 0; i < 4; i++)
        {
            seen.Add((await client.GetFromJsonAsync<ThreadSeen>("/thread"))!);
        }

        // The first request may start on the thread pool, where Kestrel begins each connection; every later one runs where it was read.
        Assert.All(seen.Skip(1), request => Assert.True(request.ConnectionThread));
        Assert.Single(seen.Skip(1).Select(request => request.ThreadId).Distinct());
        Assert.Single(seen.Select(request => request.Connection).Distinct());
        Assert.Equal(1, transport.ThreadedConnections);
    }

    [Fact]
    public async Task Connections_past_the_limit_get_kestrels_socket_transport_and_a_freed_thread_is_taken_again()
    {
        var (_, address, transport) = await StartAsync(threads: 1);

        var first = OneConnectionClient(address);
        Assert.True((await TwoRequestsAsync(first)).ConnectionThread);
        using (var second = OneConnectionClient(address))
        {
            var beyond = await TwoRequestsAsync(second);
            Assert.False(beyond.ConnectionThread);
            Assert.Equal(1, transport.ThreadedConnections);
        }

        // The first client's connection closes; its thread ends and the next connection gets one.
        first.Dispose();
        await WaitUntilAsync(() => transport.ThreadedConnections == 0);
        using var third = OneConnectionClient(address);
        Assert.True((await TwoRequestsAsync(third)).ConnectionThread);
        Assert.Equal(1, transport.ThreadedConnections);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(0)]
    public async Task Large_bodies_pass_both_ways_intact_and_a_chunked_answer_arrives_whole(int threads)
    {
        // 3 MiB: past the input pipe's pause threshold (1 MiB) and the output's (64 KiB).
        var (_, address, _) = await StartAsync(threads);
        using var client = OneConnectionClient(address);
        var body = new byte[3 << 20];
        new Random(7).NextBytes(body);

        for (var i = 0; i < 2; i++)
        {
            using var response = await client.PostAsync("/echo", new ByteArrayContent(body));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(body, await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(string.Concat(Enumerable.Range(0, 40).Select(i => $"chunk {i};")), await client.GetStringAsync("/chunks"));
    }

    [Fact]
    public async Task A_client_that_leaves_in_the_middle_of_a_request_aborts_it_and_frees_the_thread()
    {
        var (app, address, transport) = await StartAsync(threads: 4);
        var waiting = app.Services.GetRequiredService<Waiting>();
        using var socket = await ConnectAsync(address);

        // The head and part of the body: the handler starts, then waits for the rest.
        await socket.SendAsync(Encoding.ASCII.GetBytes("POST /wait HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\npart"));
        await waiting.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, transport.ThreadedConnections);
        socket.Close();

        // The body never came whole, and the request was aborted (Kestrel ends the read with whichever it sees first).
        Assert.NotEqual("the whole body", await waiting.BodyRead.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await waiting.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitUntilAsync(() => transport.ThreadedConnections == 0);
    }

    [Fact]
    public async Task A_server_that_closes_or_aborts_a_connection_ends_it_for_the_client()
    {
        var (_, address, transport) = await StartAsync(threads: 4);

        using (var closing = await ConnectAsync(address))
        {
            await closing.SendAsync(Encoding.ASCII.GetBytes("GET /close HTTP/1.1\r\nHost: test\r\n\r\n"));
            var answer = await ReadToEndAsync(closing);
            Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal);
            Assert.Contains("Connection: close", answer, StringComparison.Ordinal);
            // The whole (chunked) answer, then the end of the connection.
            Assert.EndsWith("\r\n\r\n7\r\nclosing\r\n0\r\n\r\n", answer, StringComparison.Ordinal);
        }

        using (var aborted = await ConnectAsync(address))
        {
            await aborted.SendAsync(Encoding.ASCII.GetBytes("GET /abort HTTP/1.1\r\nHost: test\r\n\r\n"));
            // No answer at all: the connection ends (with a FIN or a reset).
            var answer = await Record.ExceptionAsync(async () => Assert.Equal("", await ReadToEndAsync(aborted)));
            Assert.True(answer is null or SocketException, answer?.ToString());
        }

        await WaitUntilAsync(() => transport.ThreadedConnections == 0);
    }

    [Fact]
    public async Task Stopping_the_server_closes_idle_connections_and_ends_their_threads()
    {
        var (app, address, transport) = await StartAsync(threads: 4);
        using var idle = await ConnectAsync(address);
        await idle.SendAsync(Encoding.ASCII.GetBytes("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello"));
        // The whole answer, so that nothing of it is left to read.
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        while (!answer.ToString().EndsWith("\r\n\r\nhello", StringComparison.Ordinal))
        {
            var read = await idle.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(5));
            Assert.NotEqual(0, read);
            answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        Assert.Equal(1, transport.ThreadedConnections);

        _running.Remove(app);
        var stopping = app.StopAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(15));
        await app.DisposeAsync();

        // The idle connection was closed by the server, and no connection thread is left.
        Assert.Equal(0, await idle.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, transport.ThreadedConnections);
    }

    [Fact]
    public async Task A_port_of_zero_is_bound_to_the_port_the_system_chose()
    {
        var (_, address, _) = await StartAsync(threads: 2);

        Assert.NotEqual(0, new Uri(address).Port);
        using var client = OneConnectionClient(address);
        Assert.Equal("hello", await (await client.PostAsync("/echo", new StringContent("hello"))).Content.ReadAsStringAsync());
    }

    /// <summary>A Kestrel with the gateway's transport; with no threads every connection goes through it to Kestrel's socket transport.</summary>
    private async Task<(WebApplication App, string Address, ConnectionThreadTransport Transport)> StartAsync(int threads)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.Configure<GatewayOptions>(options => options.ConnectionThreads = threads);
        builder.Services.AddSingleton<Waiting>();
        builder.Services.AddConnectionThreadTransport();

        var app = builder.Build();
        app.MapGet("/thread", (HttpContext context) =>
            new ThreadSeen(ConnectionThreadTransport.IsConnectionThread, Environment.CurrentManagedThreadId, context.Connection.Id));
        app.MapPost("/echo", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), context.RequestAborted);
        });
        app.MapGet("/chunks", async (HttpContext context) =>
        {
            for (var i = 0; i < 40; i++)
            {
                await context.Response.WriteAsync($"chunk {i};", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        });
        app.MapPost("/wait", async (HttpContext context, Waiting waiting) =>
        {
            context.RequestAborted.Register(() => waiting.Aborted.TrySetResult());
            waiting.Started.TrySetResult();
            try
            {
                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
                waiting.BodyRead.TrySetResult("the whole body");
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException or BadHttpRequestException)
            {
                waiting.BodyRead.TrySetResult(exception.GetType().Name);
            }
        });
        app.MapGet("/close", (HttpContext context) =>
        {
            context.Response.Headers.Connection = "close";
            return "closing";
        });
        app.MapGet("/abort", (HttpContext context) => context.Abort());
        await app.StartAsync();
        _running.Add(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return (app, address, app.Services.GetRequiredService<ConnectionThreadTransport>());
    }

    private static HttpClient OneConnectionClient(string address) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = new Uri(address) };

    private static async Task<ThreadSeen> TwoRequestsAsync(HttpClient client)
    {
        var first = (await client.GetFromJsonAsync<ThreadSeen>("/thread"))!;
        var second = (await client.GetFromJsonAsync<ThreadSeen>("/thread"))!;
        Assert.Equal(first.Connection, second.Connection);
        return second;
    }

    private static async Task<Socket> ConnectAsync(string address)
    {
        var uri = new Uri(address);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Parse(uri.Host), uri.Port);
        return socket;
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var waited = 0; !condition() && waited < 10_000; waited += 20)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }

    private sealed record ThreadSeen(bool ConnectionThread, int ThreadId, string Connection);

    private sealed class Waiting
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<string> BodyRead { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
