using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Flywheel.AppHost;
using Flywheel.Contracts.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The same-host shortcut between the gateway and a service, on a real Kestrel: the service listens
/// on <c>{folder}/{port}.sock</c> as well as its TCP port, and the connector goes through the socket
/// for a loopback address when it is there and answers, over TCP otherwise.
/// </summary>
public sealed class LocalSocketsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("fw-sock-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_service_answers_on_its_tcp_port_and_its_socket_and_the_connector_takes_the_socket_for_loopback_addresses()
    {
        await using var service = await StartServiceAsync(withSocket: true);
        var connector = new LocalSocketConnector(_folder, NullLogger<LocalSocketConnector>.Instance);

        Assert.True(File.Exists(LocalSocketPaths.PathFor(_folder, service.Port)));
        Assert.Equal("unix", await TransportAsync(connector, $"http://127.0.0.1:{service.Port}"));
        Assert.Equal("unix", await TransportAsync(connector, $"http://localhost:{service.Port}"));
        // A client of its own built from the connector goes the same way.
        using (var own = new HttpClient(connector.CreateHandler()))
        {
            Assert.Equal("unix", await own.GetStringAsync($"http://localhost:{service.Port}/transport"));
        }

        // Without the connector the same service still answers on TCP.
        using var plain = new HttpClient();
        Assert.Equal("tcp", await plain.GetStringAsync($"http://127.0.0.1:{service.Port}/transport"));
    }

    [Fact]
    public async Task Without_a_folder_or_a_socket_for_the_port_the_connector_connects_over_tcp()
    {
        await using var service = await StartServiceAsync(withSocket: false);

        var disabled = new LocalSocketConnector(null, NullLogger<LocalSocketConnector>.Instance);
        Assert.False(disabled.Enabled);
        Assert.Null(disabled.CreateHandler().ConnectCallback);
        Assert.Equal("tcp", await TransportAsync(disabled, $"http://127.0.0.1:{service.Port}"));
        Assert.Equal("tcp", await TransportAsync(new LocalSocketConnector(_folder, NullLogger<LocalSocketConnector>.Instance), $"http://127.0.0.1:{service.Port}"));
    }

    [Fact]
    public async Task A_socket_left_behind_by_a_dead_process_makes_the_connector_fall_back_to_tcp_and_the_next_listener_replace_it()
    {
        await using (var first = await StartServiceAsync(withSocket: false))
        {
            var stale = LocalSocketPaths.PathFor(_folder, first.Port);
            LeaveStaleSocket(stale);
            var logs = new ListLogger();

            Assert.Equal("tcp", await TransportAsync(new LocalSocketConnector(_folder, logs), $"http://127.0.0.1:{first.Port}"));
            Assert.Contains(logs.Messages, m => m.Contains("refused the connection", StringComparison.Ordinal) && m.Contains(stale, StringComparison.Ordinal));
        }

        // A service starting on a path a dead process left behind removes it and listens there.
        var path = Path.Combine(_folder, "restart.sock");
        LeaveStaleSocket(path);
        LocalSockets.RemoveStale(path);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task A_socket_someone_answers_on_is_not_taken_over()
    {
        await using var service = await StartServiceAsync(withSocket: true);
        var path = LocalSocketPaths.PathFor(_folder, service.Port);

        var refused = Assert.Throws<InvalidOperationException>(() => LocalSockets.RemoveStale(path));
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Listening_keeps_the_hosts_own_addresses_from_urls_or_http_ports_or_kestrels_default()
    {
        Assert.Equal(["http://localhost:5123", "http://127.0.0.1:6000"], LocalSockets.Urls(Config(("urls", "http://localhost:5123; http://127.0.0.1:6000"))));
        Assert.Equal(["http://*:8080", "http://*:8081"], LocalSockets.Urls(Config(("http_ports", "8080;8081"))));
        Assert.Equal(["http://localhost:5000"], LocalSockets.Urls(Config()));
    }

    [Theory]
    [InlineData("relative/worker.sock")]
    [InlineData(null)]
    public void A_socket_path_that_is_relative_or_too_long_for_a_socket_address_is_refused_at_start(string? path)
    {
        path ??= "/" + new string('s', LocalSocketPaths.MaxPathBytes) + ".sock";
        var builder = WebApplication.CreateBuilder();
        builder.Configuration[LocalSockets.ListenKey] = path;

        var refused = Assert.Throws<InvalidOperationException>(() => builder.ListenOnLocalSocket());
        Assert.Contains(LocalSockets.ListenKey, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_apphost_keeps_sockets_in_the_data_folder_unless_their_paths_would_not_fit_in_a_socket_address()
    {
        Assert.Equal("/srv/flywheel/data/sockets", ServiceExtensions.SocketFolder("/srv/flywheel/data"));

        var deep = "/" + string.Join('/', Enumerable.Repeat("a-rather-long-folder-name", 4));
        var folder = ServiceExtensions.SocketFolder(deep);
        Assert.StartsWith(Path.GetTempPath(), folder, StringComparison.Ordinal);
        Assert.True(LocalSocketPaths.Fits(LocalSocketPaths.PathFor(folder, 65535)));
        // One folder per data folder: two platforms never share sockets.
        Assert.Equal(folder, ServiceExtensions.SocketFolder(deep));
        Assert.NotEqual(folder, ServiceExtensions.SocketFolder(deep + "-2"));
    }

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    /// <summary>
    /// Leaves a socket file at the path that nobody listens on, as a killed process does. .NET
    /// removes the file of a socket it bound when the socket is closed, so the file is moved away
    /// from the name it was bound under first.
    /// </summary>
    private static void LeaveStaleSocket(string path)
    {
        var bound = path + ".bound";
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            socket.Bind(new UnixDomainSocketEndPoint(bound));
            File.Move(bound, path);
        }

        Assert.True(File.Exists(path));
    }

    private static async Task<string> TransportAsync(LocalSocketConnector connector, string address)
    {
        using var client = new HttpClient(new SocketsHttpHandler { ConnectCallback = connector.ConnectAsync }) { BaseAddress = new Uri(address) };
        return await client.GetStringAsync("/transport");
    }

    /// <summary>
    /// A Kestrel on a free loopback port that says which transport each request came in on (a
    /// Unix socket connection has no remote IP address); with <paramref name="withSocket"/> it also
    /// listens on the port's socket in the test's folder, set up as a service's host does it.
    /// </summary>
    private async Task<RunningService> StartServiceAsync(bool withSocket)
    {
        var port = FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration[WebHostDefaults.ServerUrlsKey] = $"http://127.0.0.1:{port}";
        if (withSocket)
        {
            builder.Configuration[LocalSockets.ListenKey] = LocalSocketPaths.PathFor(_folder, port);
        }

        builder.ListenOnLocalSocket();
        var app = builder.Build();
        app.MapGet("/transport", (HttpContext context) => context.Connection.RemoteIpAddress is null ? "unix" : "tcp");
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        Assert.Contains($"http://127.0.0.1:{port}", addresses);
        Assert.Equal(withSocket, addresses.Any(a => a.StartsWith("http://unix:", StringComparison.Ordinal)));
        return new RunningService(app, port);
    }

    /// <summary>A loopback TCP port nobody listens on at the moment of asking.</summary>
    internal static int FreePort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    private sealed record RunningService(WebApplication App, int Port) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    private sealed class ListLogger : ILogger<LocalSocketConnector>
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Messages)
            {
                Messages.Add(formatter(state, exception));
            }
        }
    }
}

/// <summary>The platform as the AppHost runs it: the gateway reaches the inference worker through the worker's socket.</summary>
[Collection(SharedPlatform.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LocalSocketPlatformTests(PlatformFixture fixture)
{
    private readonly FlywheelApp _flywheel = fixture.Flywheel;

    [Fact]
    public async Task The_gateway_forwards_to_the_inference_worker_through_its_socket_and_holds_no_tcp_connection_to_it()
    {
        var (socket, port) = WorkerSocket();
        Assert.True(File.Exists(socket), $"no socket at {socket}");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));

        await AssertForwardedThroughAsync(socket, port);
    }

    [Fact]
    public async Task A_killed_worker_leaves_its_socket_behind_and_once_restarted_replaces_it_and_is_reached_through_it_again()
    {
        var (socket, port) = WorkerSocket();
        await _flywheel.KillServiceAsync(Flywheel.Contracts.ResourceNames.Inference);
        try
        {
            // SIGKILL gives Kestrel no chance to remove the file: binding to it again would fail.
            Assert.True(File.Exists(socket), $"the killed worker's socket {socket} is gone");
            using var gateway = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
            using var down = await gateway.GetAsync("/v2/health/live");
            Assert.True((int)down.StatusCode >= 500, $"the gateway answered {(int)down.StatusCode} with the worker down");

            // A prediction takes the gateway's direct path, which says what happened instead of a bare 5xx.
            using var predict = new HttpRequestMessage(HttpMethod.Post, "/v1/models/no-worker:predict")
            {
                Content = JsonContent.Create(new { instances = new[] { new { amount = 1.0 } } }),
            };
            predict.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _flywheel.AdminKey);
            using var refused = await gateway.SendAsync(predict);
            Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<Microsoft.AspNetCore.Mvc.ValidationProblemDetails>();
            Assert.Equal("The inference service did not answer.", problem!.Title);
            Assert.Equal("No inference worker could be reached; nothing was predicted.", problem.Errors["inference"].Single());
        }
        finally
        {
            await _flywheel.RestartServiceAsync(Flywheel.Contracts.ResourceNames.Inference);
        }

        Assert.Equal(port, WorkerSocket().Port);
        await AssertForwardedThroughAsync(socket, port);
    }

    private (string Socket, int Port) WorkerSocket()
    {
        using var direct = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Inference);
        var port = direct.BaseAddress!.Port;
        return (LocalSocketPaths.PathFor(ServiceExtensions.SocketFolder(_flywheel.DataDirectory), port), port);
    }

    /// <summary>Requests through the gateway reach the worker, through its socket and not over TCP.</summary>
    private async Task AssertForwardedThroughAsync(string socket, int port)
    {
        // /v2 is proxied to inference as it is: a request through the gateway reaches the worker.
        using var gateway = _flywheel.CreateClient(Flywheel.Contracts.ResourceNames.Gateway);
        for (var i = 0; i < 5; i++)
        {
            using var live = await gateway.GetAsync("/v2/health/live");
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        // The worker has accepted connections on its socket (a connected entry carries the path)...
        var accepted = File.ReadLines("/proc/net/unix").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields.Length >= 8 && fields[7] == socket && fields[5] == "03");
        Assert.True(accepted >= 1, $"no connection accepted on {socket}");

        // ...the gateway holds connected Unix sockets, and none of its TCP connections goes to the
        // worker's port. Its connections to PostgreSQL and Redis show that the sockets are told
        // apart by process, so the last check cannot pass for want of finding any.
        var gatewaySockets = SocketInodes(await _flywheel.ServiceProcessIdAsync(Flywheel.Contracts.ResourceNames.Gateway));
        var unixConnected = File.ReadLines("/proc/net/unix").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields[5] == "03" && gatewaySockets.Contains(fields[6]));
        Assert.True(unixConnected >= 1, "the gateway holds no connected Unix socket");
        var tcp = new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists)
            .SelectMany(table => File.ReadLines(table).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[3] == "01" && gatewaySockets.Contains(fields[9]))
            .Select(fields => RemotePort(fields[2]))
            .ToList();
        Assert.NotEmpty(tcp);
        Assert.DoesNotContain(port, tcp);
    }

    private static int RemotePort(string address) => Convert.ToInt32(address[(address.IndexOf(':', StringComparison.Ordinal) + 1)..], 16);

    /// <summary>The inodes of the sockets a process holds, as /proc/net lists them.</summary>
    private static HashSet<string> SocketInodes(int pid) =>
        [.. Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .OfType<string>()
            .Where(target => target.StartsWith("socket:[", StringComparison.Ordinal))
            .Select(target => target["socket:[".Length..^1])];
}
