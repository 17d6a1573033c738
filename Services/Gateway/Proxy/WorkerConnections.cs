using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// One kept-alive HTTP/1.1 connection from the gateway to an inference worker, with the bytes read
/// from it and not used yet. A blocking connection is only ever read and written with blocking
/// calls, so it stays a blocking socket in the kernel and a waiting thread is woken by the kernel
/// itself; any other only with asynchronous ones.
/// </summary>
internal sealed class WorkerConnection : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(Http1.MaxHeadBytes);
    private int _start;
    private int _end;

    public WorkerConnection(Socket socket, DnsEndPoint endpoint, bool blocking)
    {
        _socket = socket;
        Endpoint = endpoint;
        Blocking = blocking;
    }

    public DnsEndPoint Endpoint { get; }

    public bool Blocking { get; }

    /// <summary>When it was put back in the pool (<see cref="Environment.TickCount64"/>).</summary>
    public long IdleSince { get; set; }

    public ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    public ReadOnlyMemory<byte> BufferedMemory => _buffer.AsMemory(_start, _end - _start);

    public void Consume(int count)
    {
        _start += count;
        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    /// <summary>Reads what the worker sent next, after the bytes still buffered; 0 at the end of the connection.</summary>
    public async ValueTask<int> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new WorkerProtocolException($"More than {_buffer.Length} bytes arrived without the line or head they should end.");
        }

        var read = Blocking
            ? _socket.Receive(_buffer, _end, _buffer.Length - _end, SocketFlags.None)
            : await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        return read;
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            var sent = Blocking
                ? _socket.Send(bytes.Span, SocketFlags.None)
                : await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
            bytes = bytes[sent..];
        }
    }

    /// <summary>Whether the worker closed it (or sent something unasked) while it sat in the pool.</summary>
    public bool LooksClosed()
    {
        try
        {
            // Readable while idle means closed by the worker, or bytes nobody asked for: either way not reusable.
            return _end > _start || _socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Closes the socket, from any thread: a blocked read or write ends with an error. The buffer stays until <see cref="Dispose"/>.</summary>
    public void Abort() => _socket.Dispose();

    public void Dispose()
    {
        _socket.Dispose();
        var buffer = Interlocked.Exchange(ref _buffer, Array.Empty<byte>());
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Idle connections to the inference workers, per worker endpoint and kind (blocking or not). A
/// connection idle for longer than the idle limit, or one the worker closed meanwhile, is closed
/// rather than reused: when it would be taken (so a dead worker's connection is not sent a request
/// it can only fail, and the caller can be told nothing was predicted), and by a sweep every half
/// limit, so that the ones left under a burst's worth of newer ones do not linger. The sweep also
/// forgets an endpoint with nothing idle left (a rescheduled worker's old address).
/// </summary>
internal sealed class WorkerConnectionPool : IDisposable
{
    private readonly ConcurrentDictionary<(DnsEndPoint Endpoint, bool Blocking), ConcurrentStack<WorkerConnection>> _idle = new();
    private readonly LocalSocketConnector _connector;
    private readonly long _idleLimitMilliseconds;
    private readonly int _maxIdlePerEndpoint;
    private readonly Timer _sweeper;
    private volatile bool _disposed;

    public WorkerConnectionPool(LocalSocketConnector connector, TimeSpan idleLimit, int maxIdlePerEndpoint)
    {
        _connector = connector;
        _idleLimitMilliseconds = (long)idleLimit.TotalMilliseconds;
        _maxIdlePerEndpoint = maxIdlePerEndpoint;
        _sweeper = new Timer(static pool => ((WorkerConnectionPool)pool!).Sweep(), this, idleLimit / 2, idleLimit / 2);
    }

    /// <summary>An idle connection of the kind to the endpoint that still looks open, or null.</summary>
    public WorkerConnection? TakeIdle(DnsEndPoint endpoint, bool blocking)
    {
        if (!_idle.TryGetValue((endpoint, blocking), out var stack))
        {
            return null;
        }

        var now = Environment.TickCount64;
        while (stack.TryPop(out var connection))
        {
            if (Usable(connection, now))
            {
                return connection;
            }

            connection.Dispose();
        }

        return null;
    }

    /// <summary>A new connection; a blocking one is connected with a blocking call (loopback addresses only).</summary>
    public async ValueTask<WorkerConnection> ConnectAsync(DnsEndPoint endpoint, bool blocking, CancellationToken cancellationToken) =>
        blocking
            ? new(_connector.ConnectSocket(endpoint), endpoint, blocking: true)
            : new(await _connector.ConnectSocketAsync(endpoint, cancellationToken), endpoint, blocking: false);

    /// <summary>Keeps a connection whose exchange finished cleanly for the next request.</summary>
    public void Return(WorkerConnection connection)
    {
        var stack = _idle.GetOrAdd((connection.Endpoint, connection.Blocking), _ => new ConcurrentStack<WorkerConnection>());
        if (_disposed || stack.Count >= _maxIdlePerEndpoint)
        {
            connection.Dispose();
            return;
        }

        connection.IdleSince = Environment.TickCount64;
        stack.Push(connection);
        if (_disposed || !_idle.TryGetValue((connection.Endpoint, connection.Blocking), out var current) || current != stack)
        {
            // Disposed, or the sweep forgot this (then empty) stack, while this one was being put back.
            Drain(stack);
        }
    }

    public int IdleCount(DnsEndPoint endpoint) =>
        (_idle.TryGetValue((endpoint, false), out var pooled) ? pooled.Count : 0) + (_idle.TryGetValue((endpoint, true), out var blocking) ? blocking.Count : 0);

    /// <summary>Closes the idle connections that are past the limit or were closed by the worker.</summary>
    public void Sweep()
    {
        var now = Environment.TickCount64;
        foreach (var (key, stack) in _idle)
        {
            if (stack.IsEmpty)
            {
                // Nothing idle to that endpoint: forget it. A connection pushed meanwhile is closed,
                // here or by the Return that pushed it (it finds its stack gone).
                if (_idle.TryRemove(new KeyValuePair<(DnsEndPoint, bool), ConcurrentStack<WorkerConnection>>(key, stack)))
                {
                    Drain(stack);
                }

                continue;
            }

            var kept = new List<WorkerConnection>();
            while (stack.TryPop(out var connection))
            {
                if (!_disposed && Usable(connection, now))
                {
                    kept.Add(connection);
                }
                else
                {
                    connection.Dispose();
                }
            }

            // Back in the order they were in: the most recently used on top.
            for (var i = kept.Count - 1; i >= 0; i--)
            {
                stack.Push(kept[i]);
            }
        }
    }

    /// <summary>Endpoint and kind pairs the pool keeps a stack for (for tests and diagnostics).</summary>
    public int Endpoints => _idle.Count;

    public void Dispose()
    {
        _disposed = true;
        _sweeper.Dispose();
        foreach (var stack in _idle.Values)
        {
            Drain(stack);
        }
    }

    private static void Drain(ConcurrentStack<WorkerConnection> stack)
    {
        while (stack.TryPop(out var connection))
        {
            connection.Dispose();
        }
    }

    private bool Usable(WorkerConnection connection, long now) => now - connection.IdleSince <= _idleLimitMilliseconds && !connection.LooksClosed();
}
