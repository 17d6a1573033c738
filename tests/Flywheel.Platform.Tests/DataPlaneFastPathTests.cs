using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Flywheel.Contracts.Serving;
using Flywheel.Gateway;
using Flywheel.Gateway.Proxy;
using Flywheel.Gateway.Traffic;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The gateway's data-plane fast path on real sockets: a front built as the gateway builds it (the
/// connection middleware in front of Kestrel's HTTP handler, YARP's cluster state, the direct
/// forwarder) with an admission that admits the key "good", and behind it a pipeline that marks
/// what it forwards as its own. Kestrel workers answer in every framing, break off or stall.
/// </summary>
public partial class DataPlaneFastPathTests : IAsyncLifetime
{
    private const string Predict = "/v1/models/echo:predict";
    private readonly List<IAsyncDisposable> _running = [];

    /// <summary>Connections the front serves on threads of their own (<see cref="GatewayOptions.FastPathThreads"/>); 0: Kestrel's transport and the connection middleware alone.</summary>
    protected virtual int FrontThreads => 0;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var running in Enumerable.Reverse(_running))
        {
            await running.DisposeAsync();
        }
    }

    [Fact]
    public async Task Predictions_in_their_plain_form_are_answered_off_the_connection_and_reach_the_worker_as_the_pipeline_would_send_them()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();

        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Predict)
            {
                Content = new StringContent($"{{\"instances\":[{{\"n\":{i}}}]}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "good");
            request.Headers.Add("X-Custom", "kept");
            request.Headers.Add(ServingHeaders.Version, "99");
            request.Headers.Add(ServingHeaders.Traffic, "canary");
            request.Headers.Add("X-Forwarded-Host", "elsewhere");
            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("7", response.Headers.GetValues(ServingHeaders.ModelVersion).Single());
            var text = await response.Content.ReadAsStringAsync();
            Assert.Equal(text.Length, response.Content.Headers.ContentLength);
            var echo = JsonSerializer.Deserialize<Echo>(text, JsonSerializerOptions.Web)!;
            Assert.Equal("POST", echo.Method);
            Assert.Equal(Predict, echo.Target);
            Assert.Equal($"127.0.0.1:{worker.Port}", echo.Host);
            Assert.Equal($"{{\"instances\":[{{\"n\":{i}}}]}}", echo.Body);
            Assert.Equal(echo.Body.Length, echo.ContentLength);
            Assert.Equal("application/json; charset=utf-8", echo.ContentType);
            // The admission's role, not the client's; the client's version header is dropped.
            Assert.Equal(TrafficRoles.Production, echo.Traffic);
            Assert.Null(echo.Version);
            Assert.Equal("127.0.0.1", echo.ForwardedFor);
            Assert.Equal("http", echo.ForwardedProto);
            Assert.Equal($"127.0.0.1:{front.Port}", echo.ForwardedHost);
            Assert.Equal("Bearer good", echo.Authorization);
            Assert.Equal(["kept"], echo.Custom);
            // Untraced: the worker is told so, in a fresh trace.
            Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", echo.TraceParent);
        }

        Assert.Equal(3, await front.TakenAsync(3));
        Assert.Equal(0, front.FastPath.HandedOff);
        Assert.Equal(0, front.PipelineRequests);
        Assert.Equal([200, 200, 200], front.Admission.Statuses);
    }

    [Fact]
    public async Task Pipelined_predictions_and_a_head_that_arrives_in_pieces_are_each_answered_in_order()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        await connection.SendAsync(PredictRequest("first") + PredictRequest("second"));
        Assert.Equal("first", (await connection.ReadEchoAsync()).Body);
        Assert.Equal("second", (await connection.ReadEchoAsync()).Body);

        var pieces = PredictRequest("third");
        foreach (var piece in new[] { pieces[..3], pieces[3..40], pieces[40..^2], pieces[^2..] })
        {
            await connection.SendAsync(piece);
            await Task.Delay(50);
        }

        Assert.Equal("third", (await connection.ReadEchoAsync()).Body);
        Assert.Equal(3, await front.TakenAsync(3));
        Assert.Equal(0, front.PipelineRequests);
    }

    [Fact]
    public async Task The_first_request_it_does_not_take_hands_the_connection_to_the_pipeline_which_answers_that_one_and_the_rest()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        await connection.SendAsync(PredictRequest("fast"));
        var fast = await connection.ReadEchoAsync();
        await connection.SendAsync("GET /other HTTP/1.1\r\nHost: front\r\n\r\n");
        var other = await connection.ReadResponseAsync();
        await connection.SendAsync(PredictRequest("after"));
        var after = await connection.ReadEchoAsync();

        Assert.Equal(TrafficRoles.Production, fast.Traffic);
        Assert.Equal(200, other.Status);
        Assert.Equal("other", other.Body);
        // Once handed off, the connection stays with the pipeline: it forwarded the last one.
        Assert.Equal("after", after.Body);
        Assert.Equal("pipeline", after.Traffic);
        Assert.Equal(fast.Connection, after.Connection);
        Assert.Equal(1, await front.TakenAsync(1));
        Assert.Equal(1, front.FastPath.HandedOff);
        Assert.Equal(2, front.PipelineRequests);
    }

    [Theory]
    [InlineData("no key", "Content-Length: 1000")]
    [InlineData("a body larger than Kestrel buffers", "X-Api-Key: good\r\nContent-Length: 2000000")]
    public async Task A_call_it_would_not_take_goes_to_the_pipeline_at_its_head_without_waiting_for_its_body(string form, string headers)
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        await connection.SendAsync($"POST {Predict} HTTP/1.1\r\nHost: front\r\n{headers}\r\n\r\n");

        await SettledAsync(() => front.FastPath.HandedOff > 0);
        Assert.True(front.FastPath.HandedOff == 1, $"{form}: the fast path still waits for the body");
        Assert.Equal(0, front.FastPath.Taken);
    }

    [Theory]
    [InlineData("a key the admission does not know", "Authorization: Bearer bad\r\nContent-Length: 4\r\n", "\r\nbody")]
    [InlineData("a chunked body", "Authorization: Bearer good\r\n", "Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n")]
    [InlineData("a key the admission does not know, the body later", "Authorization: Bearer bad\r\nContent-Length: 4\r\n\r\n", "body")]
    public async Task A_request_that_arrives_in_pieces_and_is_not_taken_reaches_the_pipeline_whole(string form, string first, string second)
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        await connection.SendAsync($"POST {Predict} HTTP/1.1\r\nHost: front\r\n" + first);
        await Task.Delay(200);
        await connection.SendAsync(second);
        var response = await connection.ReadResponseAsync();

        Assert.True(response.Status == 200, $"{form}: {response.Status} {response.Body}");
        var echo = JsonSerializer.Deserialize<Echo>(response.Body, JsonSerializerOptions.Web)!;
        Assert.Equal("body", echo.Body);
        Assert.Equal("pipeline", echo.Traffic);
        Assert.Equal(0, front.FastPath.Taken);
        Assert.Equal(1, front.FastPath.HandedOff);
    }

    [Theory]
    [InlineData("a key the admission does not know", "POST /v1/models/echo:predict HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer bad\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("no key", "POST /v1/models/echo:predict HTTP/1.1\r\nHost: front\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("a chunked body", "POST /v1/models/echo:predict HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer good\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n")]
    [InlineData("a query", "POST /v1/models/echo:predict?explain=1 HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer good\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("an escaped path", "POST /v1/models/ech%6F:predict HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer good\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("a sampled trace", "POST /v1/models/echo:predict HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer good\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("HTTP/1.0", "POST /v1/models/echo:predict HTTP/1.0\r\nHost: front\r\nAuthorization: Bearer good\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("a closing connection", "POST /v1/models/echo:predict HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer good\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("the feedback call", "POST /v1/models/echo/feedback HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer good\r\nContent-Length: 4\r\n\r\nbody")]
    [InlineData("a versioned infer", "POST /v2/models/echo/versions/3/infer HTTP/1.1\r\nHost: front\r\nAuthorization: Bearer good\r\nContent-Length: 4\r\n\r\nbody")]
    public async Task Whatever_it_does_not_take_the_pipeline_answers_as_it_always_has(string form, string raw)
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        await connection.SendAsync(raw);
        var response = await connection.ReadResponseAsync();

        Assert.True(response.Status == 200, $"{form}: {response.Status} {response.Body}");
        var echo = JsonSerializer.Deserialize<Echo>(response.Body, JsonSerializerOptions.Web)!;
        Assert.Equal("body", echo.Body);
        Assert.Equal("pipeline", echo.Traffic);
        Assert.Equal(0, front.FastPath.Taken);
        Assert.Equal(1, front.FastPath.HandedOff);
        Assert.Equal(1, front.PipelineRequests);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: front\r\n\r\n", 405)]
    [InlineData("POST /v1/models/echo:predict HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", 400)]
    [InlineData("POST /v1/models/echo:predict HTTP/1.1\r\nHost: front\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nbody", 400)]
    [InlineData("POST /v1/models/echo:predict HTTP/1.1\r\nHost : front\r\nContent-Length: 4\r\n\r\nbody", 400)]
    [InlineData("NONSENSE\r\n\r\n", 400)]
    public async Task A_request_kestrel_refuses_is_refused_by_kestrel(string raw, int status)
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        await connection.SendAsync(raw);

        Assert.Equal(status, (await connection.ReadResponseAsync()).Status);
        Assert.Equal(0, front.FastPath.Taken);
    }

    [Fact]
    public async Task A_request_whose_client_stops_sending_midway_is_left_to_kestrel_when_the_connection_ends()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);

        await connection.SendAsync(PredictRequest("cut short")[..^3]);
        connection.Socket.Shutdown(SocketShutdown.Send);

        // Kestrel gets what came, sees the client gone before the body ended, and closes the connection
        // (with a reset when it did not read all that came): no answer either way.
        var ended = await Record.ExceptionAsync(connection.ReadResponseAsync);
        Assert.True(ended is IOException or SocketException, $"Expected the connection to end without an answer; got {ended}");
        Assert.Equal(0, front.FastPath.Taken);
        Assert.Equal(1, front.FastPath.HandedOff);
        Assert.Empty(front.Admission.Statuses);
    }

    [Fact]
    public async Task The_workers_answers_in_every_framing_reach_the_caller_intact()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();

        using (var chunked = await PostAsync(client, "chunked"))
        {
            Assert.Equal(HttpStatusCode.OK, chunked.StatusCode);
            Assert.Equal(string.Concat(Enumerable.Range(0, 50).Select(i => $"part {i};")), await chunked.Content.ReadAsStringAsync());
        }

        using (var empty = await PostAsync(client, "no-content"))
        {
            Assert.Equal(HttpStatusCode.NoContent, empty.StatusCode);
            Assert.Empty(await empty.Content.ReadAsByteArrayAsync());
        }

        using (var problem = await PostAsync(client, "problem"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, problem.StatusCode);
            Assert.Equal("application/problem+json", problem.Content.Headers.ContentType!.MediaType);
            Assert.Equal("The instance is invalid.", (await problem.Content.ReadFromJsonAsync<ProblemDetails>())!.Title);
        }

        using (var closing = await PostAsync(client, "close"))
        {
            Assert.Equal("closing", await closing.Content.ReadAsStringAsync());
        }

        using (var large = await PostAsync(client, "large"))
        {
            Assert.Equal(new string('z', 1 << 20), await large.Content.ReadAsStringAsync());
        }

        Assert.Equal(5, await front.TakenAsync(5));
        Assert.Equal(0, front.PipelineRequests);
        Assert.Equal([200, 204, 400, 200, 200], front.Admission.Statuses);
    }

    [Fact]
    public async Task A_worker_that_cannot_be_reached_is_a_502_problem_and_one_that_breaks_off_breaks_the_response()
    {
        using var refusing = DirectForwarderTests.RefusingPort(out var deadPort);
        var dead = await StartFrontAsync([$"http://127.0.0.1:{deadPort}/"]);
        using (var client = dead.Client())
        using (var response = await PostAsync(client, "echo"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<ValidationProblemDetails>();
            Assert.Equal("The inference service did not answer.", problem!.Title);
            Assert.Equal(502, problem.Status);
            Assert.Contains("nothing was predicted", problem.Errors["inference"].Single(), StringComparison.Ordinal);
            Assert.True(problem.Extensions.ContainsKey("traceId"));
        }

        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var broken = front.Client();
        var failure = await Record.ExceptionAsync(async () =>
        {
            using var response = await PostAsync(broken, "break-off");
            await response.Content.ReadAsByteArrayAsync();
        });
        Assert.True(failure is HttpRequestException or IOException, failure?.ToString() ?? "the response looked whole");
        using var after = await PostAsync(broken, "echo");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_caller_that_gives_up_ends_the_workers_request_too()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var client = front.Client();
        using var giveUp = new CancellationTokenSource();
        var call = client.PostAsync("/v1/models/slow:predict", new StringContent("x"), giveUp.Token);

        Assert.True(await worker.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<TaskCanceledException>(() => call);

        Assert.True(await worker.SlowAborted.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_stopping_gateway_closes_an_idle_fast_path_connection()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address]);
        using var connection = await RawConnection.OpenAsync(front.Port);
        await connection.SendAsync(PredictRequest("before"));
        Assert.Equal("before", (await connection.ReadEchoAsync()).Body);

        await front.App.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var buffer = new byte[16];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await connection.Socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token));
    }

    [Fact]
    public async Task Turned_off_every_request_goes_through_the_pipeline()
    {
        var worker = await StartWorkerAsync();
        var front = await StartFrontAsync([worker.Address], fastPath: false);
        using var client = front.Client();

        using var response = await PostAsync(client, "echo");
        var echo = (await response.Content.ReadFromJsonAsync<Echo>(JsonSerializerOptions.Web))!;

        Assert.Equal("pipeline", echo.Traffic);
        Assert.False(front.FastPath.Enabled);
        Assert.Equal(0, front.FastPath.Taken);
        Assert.Equal(1, front.PipelineRequests);
    }

    /// <summary>Waits up to 10 s for what the gateway does just after an answer goes out (a count, a hand-off, a thread ending); whether it came.</summary>
    private protected static async Task<bool> SettledAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        return condition();
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string model) =>
        await client.PostAsync($"/v1/models/{model}:predict", new StringContent("x"));

    private protected static string PredictRequest(string body) =>
        $"POST {Predict} HTTP/1.1\r\nHost: front\r\nX-Api-Key: good\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}";

    private protected sealed record Echo(
        string Method, string Target, string Host, string Body, long? ContentLength, string? ContentType, string? Traffic, string? Version,
        string? ForwardedFor, string? ForwardedProto, string? ForwardedHost, string? Authorization, string[] Custom, string? TraceParent,
        string Connection);

    /// <summary>Admits the key "good" (as the bearer or X-Api-Key) for any model, version 7's role production; records each completed status.</summary>
    private protected sealed class GoodKeyAdmission : IDataPlaneAdmission
    {
        private readonly ConcurrentQueue<int> _completed = new();

        public int[] Statuses => [.. _completed];

        public ValueTask<AdmittedCall?> TryAdmitAsync(DataPlaneRequest request, byte[] body, IPAddress? client, CancellationToken cancellationToken) =>
            ValueTask.FromResult(request.PresentedKey == "good" ? new AdmittedCall(request.Serving.Model!, 7, TrafficRoles.Production, null) : null);

        public bool MayTake(DataPlaneRequest request) => request.PresentedKey is not null;

        public void Completed(AdmittedCall call, int status) => _completed.Enqueue(status);
    }

    private protected async Task<Front> StartFrontAsync(
        string[] destinations, bool fastPath = true, int? threads = null, Action<GatewayOptions>? gateway = null, Action<KestrelServerOptions>? kestrel = null)
    {
        var port = LocalSocketsTests.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddProblemDetails();
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddOptions<GatewayOptions>().Configure(options =>
        {
            options.FastPath = fastPath;
            options.FastPathThreads = threads ?? FrontThreads;
            gateway?.Invoke(options);
        });
        if (kestrel is not null)
        {
            builder.Services.Configure(kestrel);
        }

        builder.Services.AddSingleton(new LocalSocketConnector(null, NullLogger<LocalSocketConnector>.Instance));
        builder.Services.AddSingleton<DirectForwarder>();
        var admission = new GoodKeyAdmission();
        builder.Services.AddSingleton<IDataPlaneAdmission>(admission);
        builder.Services.AddSingleton<DataPlaneConnections>();
        builder.Services.Configure<KestrelServerOptions>(DataPlaneConnections.InFrontOfEveryEndpoint);
        DataPlaneFront.Register(builder.Services);
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
        var pipelineRequests = 0;
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref pipelineRequests);
            await next(context);
        });
        app.MapReverseProxy();
        app.MapGet("/other", () => "other");
        app.MapPost("/{**path}", async (HttpContext context, DirectForwarder forwarder) =>
        {
            var body = new byte[context.Request.ContentLength ?? 0];
            if (context.Request.ContentLength is null)
            {
                using var copy = new MemoryStream();
                await context.Request.Body.CopyToAsync(copy, context.RequestAborted);
                body = copy.ToArray();
            }
            else
            {
                await context.Request.Body.ReadExactlyAsync(body, context.RequestAborted);
            }

            foreach (var header in ServingHeaders.All)
            {
                context.Request.Headers.Remove(header);
            }

            context.Request.Headers[ServingHeaders.Traffic] = "pipeline";
            context.Request.QueryString = QueryString.Empty;
            context.Request.Path = new PathString(context.Request.Path.Value!.Replace("%6F", "o", StringComparison.Ordinal)
                .Replace("/feedback", ":predict", StringComparison.Ordinal).Replace("/v2/models/echo/versions/3/infer", Predict, StringComparison.Ordinal));
            if (!await forwarder.TryForwardAsync(context, body))
            {
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            }
        });
        await app.StartAsync();
        var front = new Front(app, port, app.Services.GetRequiredService<DataPlaneConnections>(), app.Services.GetRequiredService<DataPlaneFront>(), admission,
            () => Volatile.Read(ref pipelineRequests));
        _running.Add(front);
        return front;
    }

    private protected sealed record Front(WebApplication App, int Port, DataPlaneConnections FastPath, DataPlaneFront TcpFront, GoodKeyAdmission Admission, Func<int> Pipeline) : IAsyncDisposable
    {
        public int PipelineRequests => Pipeline();

        /// <summary>Calls taken, once at least <paramref name="expected"/> are counted: a call is counted (and its admission completed) just after its answer went out.</summary>
        public async Task<long> TakenAsync(long expected)
        {
            await SettledAsync(() => FastPath.Taken >= expected);
            return FastPath.Taken;
        }

        public HttpClient Client()
        {
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}") };
            client.DefaultRequestHeaders.Add("X-Api-Key", "good");
            return client;
        }

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    /// <summary>A Kestrel standing in for an inference worker: the model's name says how it answers; "echo" (and any other) echoes what it received.</summary>
    private protected async Task<Worker> StartWorkerAsync()
    {
        var port = LocalSocketsTests.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddProblemDetails();
        var app = builder.Build();
        var slowStarted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowAborted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        app.MapPost("/v1/models/{model}:predict", async (HttpContext context, string model) =>
        {
            var response = context.Response;
            switch (model)
            {
                case "chunked":
                    for (var i = 0; i < 50; i++)
                    {
                        await response.WriteAsync($"part {i};");
                        await response.Body.FlushAsync();
                    }

                    return;
                case "no-content":
                    response.StatusCode = StatusCodes.Status204NoContent;
                    return;
                case "problem":
                    await Results.Problem(title: "The instance is invalid.", statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
                    return;
                case "close":
                    response.Headers.Connection = "close";
                    await response.WriteAsync("closing");
                    return;
                case "large":
                    response.ContentLength = 1 << 20;
                    await response.WriteAsync(new string('z', 1 << 20));
                    return;
                case "break-off":
                    response.ContentLength = 1000;
                    await response.WriteAsync("only some");
                    await response.Body.FlushAsync();
                    await Task.Delay(200);
                    context.Abort();
                    return;
                case "delayed":
                    slowStarted.TrySetResult(true);
                    await Task.Delay(TimeSpan.FromMilliseconds(500));
                    response.ContentLength = 7;
                    await response.WriteAsync("delayed");
                    return;
                case "slow":
                    slowStarted.TrySetResult(true);
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
                    }
                    catch (OperationCanceledException)
                    {
                        slowAborted.TrySetResult(true);
                    }

                    return;
            }

            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var request = context.Request;
            string? Header(string name) => request.Headers[name].FirstOrDefault();
            var echo = JsonSerializer.SerializeToUtf8Bytes(new Echo(
                request.Method, request.Path + request.QueryString, request.Headers.Host.ToString(), body, request.ContentLength, request.ContentType,
                Header(ServingHeaders.Traffic), Header(ServingHeaders.Version), Header("X-Forwarded-For"), Header("X-Forwarded-Proto"),
                Header("X-Forwarded-Host"), Header("Authorization"), [.. request.Headers["X-Custom"].Select(v => v!)], Header("traceparent"),
                context.Connection.Id), JsonSerializerOptions.Web);
            response.Headers[ServingHeaders.ModelVersion] = "7";
            response.ContentType = "application/json";
            response.ContentLength = echo.Length;
            await response.Body.WriteAsync(echo);
        });
        await app.StartAsync();
        var worker = new Worker(app, port, slowStarted, slowAborted);
        _running.Add(worker);
        return worker;
    }

    private protected sealed record Worker(WebApplication App, int Port, TaskCompletionSource<bool> SlowStarted, TaskCompletionSource<bool> SlowAborted) : IAsyncDisposable
    {
        public string Address => $"http://127.0.0.1:{Port}/";

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    /// <summary>One client connection written and read by hand, for pipelining, pieces and mixed requests.</summary>
    private protected sealed partial class RawConnection(Socket socket) : IDisposable
    {
        private readonly List<byte> _pending = [];

        public Socket Socket => socket;

        public static async Task<RawConnection> OpenAsync(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, port);
            return new RawConnection(socket);
        }

        public async Task SendAsync(string text) => await socket.SendAsync(Encoding.Latin1.GetBytes(text), SocketFlags.None);

        public async Task<Echo> ReadEchoAsync()
        {
            var response = await ReadResponseAsync();
            Assert.True(response.Status == 200, $"{response.Status} {response.Body}");
            return JsonSerializer.Deserialize<Echo>(response.Body, JsonSerializerOptions.Web)!;
        }

        /// <summary>The next whole response (Content-Length or chunked framing), 100 Continue skipped.</summary>
        public async Task<(int Status, string Body)> ReadResponseAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                var head = await ReadUntilAsync("\r\n\r\n"u8.ToArray(), timeout.Token);
                var status = int.Parse(head[9..12], System.Globalization.CultureInfo.InvariantCulture);
                if (status == 100)
                {
                    continue;
                }

                var length = ContentLength().Match(head);
                if (length.Success)
                {
                    return (status, Encoding.UTF8.GetString(await ReadExactlyAsync(int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), timeout.Token)));
                }

                if (!head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
                {
                    return (status, "");
                }

                var body = new StringBuilder();
                while (true)
                {
                    var size = Convert.ToInt32((await ReadUntilAsync("\r\n"u8.ToArray(), timeout.Token)).Trim(), 16);
                    body.Append(Encoding.UTF8.GetString(await ReadExactlyAsync(size, timeout.Token)));
                    await ReadUntilAsync("\r\n"u8.ToArray(), timeout.Token);
                    if (size == 0)
                    {
                        return (status, body.ToString());
                    }
                }
            }
        }

        private async Task<string> ReadUntilAsync(byte[] end, CancellationToken cancellationToken)
        {
            while (true)
            {
                var index = IndexOf(end);
                if (index >= 0)
                {
                    var text = Encoding.Latin1.GetString([.. _pending.Take(index)]);
                    _pending.RemoveRange(0, index + end.Length);
                    return text;
                }

                await FillAsync(cancellationToken);
            }
        }

        private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            while (_pending.Count < count)
            {
                await FillAsync(cancellationToken);
            }

            var bytes = _pending.Take(count).ToArray();
            _pending.RemoveRange(0, count);
            return bytes;
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            var buffer = new byte[64 * 1024];
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("The front closed the connection.");
            }

            _pending.AddRange(buffer.AsSpan(0, read));
        }

        private int IndexOf(byte[] end)
        {
            for (var i = 0; i + end.Length <= _pending.Count; i++)
            {
                var match = true;
                for (var j = 0; j < end.Length && match; j++)
                {
                    match = _pending[i + j] == end[j];
                }

                if (match)
                {
                    return i;
                }
            }

            return -1;
        }

        [GeneratedRegex(@"(?im)^Content-Length:\s*(\d+)\s*$")]
        private static partial Regex ContentLength();

        public void Dispose() => socket.Dispose();
    }
}
