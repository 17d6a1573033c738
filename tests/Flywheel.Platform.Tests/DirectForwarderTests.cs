using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Flywheel.Contracts.Serving;
using Flywheel.Gateway;
using Flywheel.Gateway.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The gateway's direct path to the inference workers, on real sockets: a front end built as the
/// gateway builds it (YARP's cluster state, its passive health policy, the forwarder) in front of
/// Kestrel workers that answer in every framing, close, break off, stall or do not exist.
/// </summary>
public sealed class DirectForwarderTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("fw-direct-").FullName;
    private readonly List<IAsyncDisposable> _running = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var running in Enumerable.Reverse(_running))
        {
            await running.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task The_request_reaches_the_worker_as_yarp_would_send_it_and_the_answer_comes_back_whole()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/fraud:predict?explain=1")
        {
            Content = new StringContent("{\"instances\":[{\"amount\":12.5}]}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "secret");
        request.Headers.Add("X-Custom", ["one", "two"]);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("7", response.Headers.GetValues(ServingHeaders.ModelVersion).Single());
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(text.Length, response.Content.Headers.ContentLength);
        var echo = JsonSerializer.Deserialize<Echo>(text, JsonSerializerOptions.Web)!;
        Assert.Equal("POST", echo.Method);
        Assert.Equal("/v1/models/fraud:predict?explain=1", echo.Target);
        Assert.Equal($"127.0.0.1:{worker.Port}", echo.Host);
        Assert.Equal("{\"instances\":[{\"amount\":12.5}]}", echo.Body);
        Assert.Equal(echo.Body.Length, echo.ContentLength);
        Assert.Equal("application/json; charset=utf-8", echo.ContentType);
        Assert.Equal("tester", echo.Caller);
        Assert.Equal("127.0.0.1", echo.ForwardedFor);
        Assert.Equal("http", echo.ForwardedProto);
        Assert.Equal($"127.0.0.1:{front.Port}", echo.ForwardedHost);
        Assert.Equal("Bearer secret", echo.Authorization);
        // HttpClient sends the two values on one line, and that line arrives as it was sent.
        Assert.Equal("one, two", string.Join(", ", echo.Custom));
        Assert.False(echo.Chunked);
    }

    [Fact]
    public async Task One_kept_alive_connection_carries_request_after_request_through_the_workers_local_socket()
    {
        var worker = await StartWorkerAsync(withSocket: true);
        var front = await StartFrontAsync([worker.Address], socketFolder: _folder);
        using var client = front.Client();

        var endpoint = new DnsEndPoint("127.0.0.1", worker.Port);
        var first = await EchoAsync(client, "/echo", "a");
        await WaitForIdleAsync(front, endpoint, 1);
        var second = await EchoAsync(client, "/echo", "b");
        await WaitForIdleAsync(front, endpoint, 1);
        var third = await EchoAsync(client, "/echo", "c");

        Assert.Equal("unix", first.Transport);
        Assert.Equal(first.Connection, second.Connection);
        Assert.Equal(first.Connection, third.Connection);
        await WaitForIdleAsync(front, endpoint, 1);
    }

    [Fact]
    public async Task Without_a_socket_the_worker_is_reached_over_tcp()
    {
        var worker = await StartWorkerAsync(withSocket: false);
        var front = await StartFrontAsync([worker.Address], socketFolder: _folder);
        using var client = front.Client();

        Assert.Equal("tcp", (await EchoAsync(client, "/echo", "a")).Transport);
    }

    [Fact]
    public async Task Chunked_empty_and_closing_answers_reach_the_caller_intact()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();

        using (var chunked = await client.PostAsync("/chunked", new StringContent("x")))
        {
            Assert.Equal(HttpStatusCode.OK, chunked.StatusCode);
            Assert.Equal(string.Concat(Enumerable.Range(0, 50).Select(i => $"part {i};")), await chunked.Content.ReadAsStringAsync());
        }

        using (var empty = await client.PostAsync("/no-content", new StringContent("x")))
        {
            Assert.Equal(HttpStatusCode.NoContent, empty.StatusCode);
            Assert.Empty(await empty.Content.ReadAsByteArrayAsync());
        }

        var endpoint = new DnsEndPoint("127.0.0.1", worker.Port);
        var before = await EchoAsync(client, "/echo", "a");
        await WaitForIdleAsync(front, endpoint, 1);
        using (var closing = await client.PostAsync("/close", new StringContent("x")))
        {
            Assert.Equal("closing", await closing.Content.ReadAsStringAsync());
        }

        // The worker said it would close that connection: it is not kept, and the next request gets a new one.
        await WaitForIdleAsync(front, endpoint, 0);
        var after = await EchoAsync(client, "/echo", "b");
        Assert.NotEqual(before.Connection, after.Connection);

        // A large answer arrives in many reads.
        using var large = await client.PostAsync("/large", new StringContent("x"));
        Assert.Equal(new string('z', 1 << 20), await large.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_workers_problem_answer_is_passed_on_unchanged()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();

        using var response = await client.PostAsync("/problem", new StringContent("x"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>();
        Assert.Equal("The instance is invalid.", problem!.Title);
    }

    [Fact]
    public async Task Concurrent_requests_each_get_their_own_answer()
    {
        var worker = await StartWorkerAsync(withSocket: true);
        var front = await StartFrontAsync([worker.Address], socketFolder: _folder);
        using var client = front.Client();

        var echoes = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => EchoAsync(client, "/echo", $"request {i}")));

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"request {i}"), echoes.Select(e => e.Body));
        // Every connection went back to the pool, up to one per request at most.
        var endpoint = new DnsEndPoint("127.0.0.1", worker.Port);
        await WaitForIdleAsync(front, endpoint, echoes.Select(e => e.Connection).Distinct().Count());
    }

    [Fact]
    public async Task A_destination_that_refuses_connections_hands_the_request_to_another_and_alone_gets_a_502_problem()
    {
        var worker = await StartWorkerAsync();
        using var refusing = RefusingPort(out var deadPort);
        var dead = $"http://127.0.0.1:{deadPort}/";
        var front = await StartFrontAsync([dead, worker.Address]);
        using var client = front.Client();

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal($"retried {i}", (await EchoAsync(client, "/echo", $"retried {i}")).Body);
        }

        var alone = await StartFrontAsync([dead]);
        using var aloneClient = alone.Client();
        using var response = await aloneClient.PostAsync("/echo", new StringContent("x"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<ValidationProblemDetails>();
        Assert.Equal("The inference service did not answer.", problem!.Title);
        Assert.Contains("nothing was predicted", problem.Errors["inference"].Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connection_failures_count_against_the_destination_in_yarps_passive_health()
    {
        using var refusing = RefusingPort(out var deadPort);
        var front = await StartFrontAsync([$"http://127.0.0.1:{deadPort}/"]);
        using var client = front.Client();

        for (var i = 0; i < 12; i++)
        {
            using var response = await client.PostAsync("/echo", new StringContent("x"));
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        var lookup = front.App.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();
        Assert.True(lookup.TryGetCluster(GatewayRoutes.InferenceCluster, out var cluster));
        Assert.Equal(Yarp.ReverseProxy.Model.DestinationHealth.Unhealthy, cluster.Destinations.Values.Single().Health.Passive);
    }

    [Fact]
    public async Task A_worker_that_breaks_off_its_answer_breaks_the_callers_response_and_a_garbled_one_is_a_502()
    {
        var worker = await StartWorkerAsync();
        var garbled = await StartRawServerAsync("HELLO THERE\r\n\r\n");
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();

        var broken = await Record.ExceptionAsync(async () =>
        {
            using var response = await client.PostAsync("/break-off", new StringContent("x"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await response.Content.ReadAsByteArrayAsync();
        });
        // The head and part of the body went out: the caller's response ends early instead of looking whole.
        Assert.True(broken is HttpRequestException or IOException, broken?.ToString() ?? "the response looked whole");

        // The front still serves, on a new connection.
        Assert.Equal("after", (await EchoAsync(client, "/echo", "after")).Body);

        var garbledFront = await StartFrontAsync([$"http://127.0.0.1:{garbled}/"]);
        using var garbledClient = garbledFront.Client();
        using var bad = await garbledClient.PostAsync("/echo", new StringContent("x"));
        Assert.Equal(HttpStatusCode.BadGateway, bad.StatusCode);
        var problem = await bad.Content.ReadFromJsonAsync<ValidationProblemDetails>();
        Assert.Contains("may or may not have been made", problem!.Errors["inference"].Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_that_cannot_be_written_as_it_is_is_left_to_yarp()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();

        // The front sets the caller header from ?caller=: a key name beyond ASCII.
        using var response = await client.PostAsync("/echo?caller=caf%C3%A9", new StringContent("x"));

        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
        Assert.Equal("tester", (await EchoAsync(client, "/echo?caller=tester", "x")).Caller);
    }

    [Fact]
    public async Task A_worker_header_the_caller_could_not_be_sent_is_a_502()
    {
        var odd = await StartRawServerAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Name: caf\u00e9\r\n\r\n{}");
        var front = await StartFrontAsync([$"http://127.0.0.1:{odd}/"]);
        using var client = front.Client();

        using var response = await client.PostAsync("/echo", new StringContent("x"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    [Fact]
    public async Task A_connection_the_worker_closed_while_idle_does_not_fail_the_next_request()
    {
        var worker = await StartWorkerAsync(keepAlive: TimeSpan.FromSeconds(1));
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();

        var before = await EchoAsync(client, "/echo", "a");
        // Kestrel closes idle connections on its one-second heartbeat once they pass the limit
        // (later on a busy machine). Whether the front has seen the close yet or not, the next
        // request must not fail.
        await worker.ClosedAsync(before.Connection).WaitAsync(TimeSpan.FromSeconds(30));
        var after = await EchoAsync(client, "/echo", "b");

        Assert.Equal("b", after.Body);
        Assert.NotEqual(before.Connection, after.Connection);
    }

    [Fact]
    public async Task A_caller_that_gives_up_ends_the_workers_request_too()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();
        using var giveUp = new CancellationTokenSource();
        var call = client.PostAsync("/slow", new StringContent("x"), giveUp.Token);

        // The caller gives up once the worker has the request, however long the front took to pass it on.
        Assert.True(await worker.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<TaskCanceledException>(() => call);

        // The worker's request was aborted when the front closed its connection to it.
        Assert.True(await worker.SlowAborted.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static async Task<Echo> EchoAsync(HttpClient client, string path, string body)
    {
        using var response = await client.PostAsync(path, new StringContent(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<Echo>(JsonSerializerOptions.Web))!;
    }

    private sealed record Echo(
        string Method, string Target, string Host, string Body, long? ContentLength, string? ContentType, string? Caller,
        string? ForwardedFor, string? ForwardedProto, string? ForwardedHost, string? Authorization, string[] Custom,
        bool Chunked, string Transport, string Connection);

    /// <summary>The gateway's arrangement in miniature: YARP's state for the inference cluster, its passive health policy, and the forwarder on every POST.</summary>
    private async Task<Front> StartFrontAsync(string[] destinations, string? socketFolder = null)
    {
        var port = LocalSocketsTests.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddProblemDetails();
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddOptions<GatewayOptions>();
        builder.Services.AddSingleton(new LocalSocketConnector(socketFolder, NullLogger<LocalSocketConnector>.Instance));
        builder.Services.AddSingleton<DirectForwarder>();
        builder.Services.AddReverseProxy().LoadFromMemory([], [new ClusterConfig
        {
            ClusterId = GatewayRoutes.InferenceCluster,
            Destinations = destinations.Select((address, i) => (address, i)).ToDictionary(d => $"worker-{d.i}", d => new DestinationConfig { Address = d.address }),
            HealthCheck = new HealthCheckConfig
            {
                AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyOrPanic,
                Passive = new PassiveHealthCheckConfig { Enabled = true, Policy = HealthCheckConstants.PassivePolicy.TransportFailureRate },
            },
        }]);
        var app = builder.Build();
        app.MapReverseProxy();
        app.MapPost("/{**path}", async (HttpContext context, DirectForwarder forwarder) =>
        {
            var body = new byte[context.Request.ContentLength ?? 0];
            await context.Request.Body.ReadExactlyAsync(body, context.RequestAborted);
            context.Request.Headers[ServingHeaders.Caller] = context.Request.Query["caller"].FirstOrDefault() ?? "tester";
            if (!await forwarder.TryForwardAsync(context, body))
            {
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            }
        });
        await app.StartAsync();
        var front = new Front(app, port, app.Services.GetRequiredService<DirectForwarder>());
        _running.Add(front);
        return front;
    }

    private sealed record Front(WebApplication App, int Port, DirectForwarder Forwarder) : IAsyncDisposable
    {
        public HttpClient Client() => new() { BaseAddress = new Uri($"http://127.0.0.1:{Port}") };

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    /// <summary>A Kestrel standing in for an inference worker: it echoes what it received and answers in each framing on its own path.</summary>
    private async Task<Worker> StartWorkerAsync(bool withSocket = false, TimeSpan? keepAlive = null)
    {
        var port = LocalSocketsTests.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        if (keepAlive is { } limit)
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.KeepAliveTimeout = limit);
        }

        // Which connections the worker has closed, by Kestrel's connection id (what /echo answers).
        var closed = new System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => async connection =>
        {
            try
            {
                await next(connection);
            }
            finally
            {
                closed.GetOrAdd(connection.ConnectionId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        })));

        if (withSocket)
        {
            builder.Configuration[LocalSockets.ListenKey] = LocalSocketPaths.PathFor(_folder, port);
        }

        builder.ListenOnLocalSocket();
        builder.Services.AddProblemDetails();
        var app = builder.Build();
        var slowStarted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowAborted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var request = context.Request;
            var echo = JsonSerializer.SerializeToUtf8Bytes(new Echo(
                request.Method, request.Path + request.QueryString, request.Headers.Host.ToString(), body, request.ContentLength, request.ContentType,
                request.Headers[ServingHeaders.Caller].FirstOrDefault(), request.Headers["X-Forwarded-For"].FirstOrDefault(),
                request.Headers["X-Forwarded-Proto"].FirstOrDefault(), request.Headers["X-Forwarded-Host"].FirstOrDefault(),
                request.Headers.Authorization.FirstOrDefault(), [.. request.Headers["X-Custom"].Select(v => v!)],
                request.Headers.TransferEncoding.Count > 0, context.Connection.RemoteIpAddress is null ? "unix" : "tcp", context.Connection.Id),
                JsonSerializerOptions.Web);
            context.Response.Headers[ServingHeaders.ModelVersion] = "7";
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = echo.Length;
            await context.Response.Body.WriteAsync(echo);
        });
        app.MapPost("/chunked", async (HttpContext context) =>
        {
            for (var i = 0; i < 50; i++)
            {
                await context.Response.WriteAsync($"part {i};");
                await context.Response.Body.FlushAsync();
            }
        });
        app.MapPost("/no-content", () => Results.NoContent());
        app.MapPost("/close", async (HttpContext context) =>
        {
            context.Response.Headers.Connection = "close";
            await context.Response.WriteAsync("closing");
        });
        app.MapPost("/large", async (HttpContext context) =>
        {
            context.Response.ContentLength = 1 << 20;
            await context.Response.WriteAsync(new string('z', 1 << 20));
        });
        app.MapPost("/problem", () => Results.Problem(title: "The instance is invalid.", statusCode: StatusCodes.Status400BadRequest));
        app.MapPost("/break-off", async (HttpContext context) =>
        {
            context.Response.ContentLength = 1000;
            await context.Response.WriteAsync("only some");
            await context.Response.Body.FlushAsync();
            // Long enough for those bytes to leave before the connection is cut.
            await Task.Delay(200);
            context.Abort();
        });
        app.MapPost("/slow", async (HttpContext context) =>
        {
            slowStarted.TrySetResult(true);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                slowAborted.TrySetResult(true);
            }
        });
        await app.StartAsync();
        var worker = new Worker(app, port, slowStarted, slowAborted, closed);
        _running.Add(worker);
        return worker;
    }

    private sealed record Worker(
        WebApplication App, int Port, TaskCompletionSource<bool> SlowStarted, TaskCompletionSource<bool> SlowAborted,
        System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> Closed) : IAsyncDisposable
    {
        /// <summary>Completes when the worker has closed the connection.</summary>
        public Task ClosedAsync(string connection) => Closed.GetOrAdd(connection, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public string Address => $"http://127.0.0.1:{Port}/";

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    /// <summary>A TCP server that answers every connection with the same bytes and closes it.</summary>
    private async Task<int> StartRawServerAsync(string answer)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var connection = await listener.AcceptSocketAsync(stop.Token);
                var buffer = new byte[4096];
                await connection.ReceiveAsync(buffer, stop.Token);
                await connection.SendAsync(Encoding.Latin1.GetBytes(answer), stop.Token);
                connection.Shutdown(SocketShutdown.Both);
            }
        });
        _running.Add(new RawServer(listener, stop, loop));
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record RawServer(TcpListener Listener, CancellationTokenSource Stop, Task Loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            Listener.Stop();
            await Loop.ContinueWith(_ => { }, TaskScheduler.Default);
            Stop.Dispose();
        }
    }

    /// <summary>Waits until the front keeps this many idle connections to the endpoint (a connection goes back after the caller has its answer).</summary>
    private static async Task WaitForIdleAsync(Front front, DnsEndPoint endpoint, int expected)
    {
        for (var waited = 0; front.Forwarder.IdleConnections(endpoint) != expected && waited < 5000; waited += 20)
        {
            await Task.Delay(20);
        }

        Assert.Equal(expected, front.Forwarder.IdleConnections(endpoint));
    }

    /// <summary>A loopback port that refuses every connection for as long as the socket is held (bound, never listening).</summary>
    internal static Socket RefusingPort(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }
}
