using System.Net;
using System.Net.Sockets;
using Flywheel.Gateway.Proxy;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The direct path's idle connections, on real sockets: reused while fresh, closed once past the
/// idle limit or closed by the worker, and an endpoint with nothing left idle is forgotten.
/// </summary>
public sealed class WorkerConnectionPoolTests : IDisposable
{
    private readonly TcpListener _worker = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _accepted = [];

    public WorkerConnectionPoolTests() => _worker.Start();

    public void Dispose()
    {
        _accepted.ForEach(socket => socket.Dispose());
        _worker.Stop();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_returned_connection_is_taken_again_while_fresh_and_only_for_its_kind(bool blocking)
    {
        using var pool = NewPool(TimeSpan.FromMinutes(1), 4);
        var endpoint = Endpoint();
        var connection = await pool.ConnectAsync(endpoint, blocking, CancellationToken.None);

        pool.Return(connection);

        Assert.Null(pool.TakeIdle(endpoint, !blocking));
        Assert.Same(connection, pool.TakeIdle(endpoint, blocking));
        Assert.Null(pool.TakeIdle(endpoint, blocking));
        connection.Dispose();
    }

    [Fact]
    public async Task Past_the_idle_limit_a_connection_is_closed_and_an_endpoint_with_none_left_is_forgotten()
    {
        using var pool = NewPool(TimeSpan.FromSeconds(1), 4);
        var endpoint = Endpoint();
        var workerSide = await ReturnOneAsync(pool, endpoint, blocking: true);
        Assert.Equal(1, pool.IdleCount(endpoint));

        // The pool's own sweep, every half limit, closes it once past the limit, then forgets the endpoint.
        await PollAsync(() => pool.IdleCount(endpoint) == 0 && pool.Endpoints == 0);

        Assert.Equal(0, pool.IdleCount(endpoint));
        Assert.Equal(0, pool.Endpoints);
        // Closed: the worker's side reads the end of the connection.
        Assert.Equal(0, await workerSide.ReceiveAsync(new byte[16]).WaitAsync(TimeSpan.FromSeconds(5)));

        // A later connection to it is kept as before.
        var again = await pool.ConnectAsync(endpoint, blocking: true, CancellationToken.None);
        pool.Return(again);
        Assert.Same(again, pool.TakeIdle(endpoint, blocking: true));
        again.Dispose();
    }

    [Fact]
    public async Task A_connection_the_worker_closed_while_idle_is_closed_by_the_sweep()
    {
        using var pool = NewPool(TimeSpan.FromMinutes(1), 4);
        var endpoint = Endpoint();
        var workerSide = await ReturnOneAsync(pool, endpoint, blocking: false);

        workerSide.Close();
        // The close reaches the pool's side in a moment; each sweep asks the kernel again.
        await PollAsync(() =>
        {
            pool.Sweep();
            return pool.IdleCount(endpoint) == 0;
        });

        Assert.Equal(0, pool.IdleCount(endpoint));
    }

    [Fact]
    public async Task Connections_past_the_per_endpoint_limit_are_closed_instead_of_kept()
    {
        using var pool = NewPool(TimeSpan.FromMinutes(1), 2);
        var endpoint = Endpoint();
        var connections = new List<WorkerConnection>();
        for (var i = 0; i < 3; i++)
        {
            connections.Add(await pool.ConnectAsync(endpoint, blocking: false, CancellationToken.None));
        }

        connections.ForEach(pool.Return);

        Assert.Equal(2, pool.IdleCount(endpoint));
        Assert.False(connections[0].LooksClosed());
        Assert.False(connections[1].LooksClosed());
        // Its socket is closed.
        Assert.True(connections[2].LooksClosed());
    }

    /// <summary>A pool as the direct path builds it, over TCP (no local socket folder).</summary>
    private static WorkerConnectionPool NewPool(TimeSpan idleLimit, int maxIdlePerEndpoint) =>
        new(new LocalSocketConnector(null, NullLogger<LocalSocketConnector>.Instance), idleLimit, maxIdlePerEndpoint);

    private DnsEndPoint Endpoint() => new("127.0.0.1", ((IPEndPoint)_worker.LocalEndpoint).Port);

    /// <summary>Connects one connection of the kind, puts it in the pool idle, and returns the worker's side of it.</summary>
    private async Task<Socket> ReturnOneAsync(WorkerConnectionPool pool, DnsEndPoint endpoint, bool blocking)
    {
        var connection = await pool.ConnectAsync(endpoint, blocking, CancellationToken.None);
        var workerSide = await AcceptAsync();
        pool.Return(connection);
        return workerSide;
    }

    private async Task<Socket> AcceptAsync()
    {
        var socket = await _worker.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(5));
        _accepted.Add(socket);
        return socket;
    }

    /// <summary>Checks <paramref name="done"/> every 50 ms for at most 5 s; the assertions after it say what was expected.</summary>
    private static async Task PollAsync(Func<bool> done)
    {
        for (var waited = 0; !done() && waited < 5000; waited += 50)
        {
            await Task.Delay(50);
        }
    }
}
