using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// One kept-alive HTTP/1.1 connection from the gateway to an inference worker, with the bytes read
/// from it and not used yet. Reads and writes either block the calling thread (a request that is
/// alone, <see cref="DirectForwarder"/>) or go through the socket's asynchronous calls.
/// </summary>
internal sealed class WorkerConnection : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(Http1.MaxHeadBytes);
    private int _start;
    private int _end;

    public WorkerConnection(Socket socket, DnsEndPoint endpoint)
    {
        _socket = socket;
        Endpoint = endpoint;
    }

    public DnsEndPoint Endpoint { get; }

    /// <summary>How many exchanges finished on this connection before the current one.</summary>
    public int Exchanges { get; set; }

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
    public async ValueTask<int> FillAsync(bool blocking, CancellationToken cancellationToken)
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

        var read = blocking
            ? _socket.Receive(_buffer, _end, _buffer.Length - _end, SocketFlags.None)
            : await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        return read;
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, bool blocking, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            var sent = blocking
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
/// Idle connections to the inference workers, per worker endpoint. A connection idle for longer
/// than the idle limit is closed rather than reused (the worker's Kestrel closes its own idle ones
/// after two minutes), and so is one the worker closed meanwhile.
/// </summary>
internal sealed class WorkerConnectionPool(LocalSocketConnector connector, TimeSpan idleLimit, int maxIdlePerEndpoint) : IDisposable
{
    private readonly ConcurrentDictionary<DnsEndPoint, ConcurrentStack<WorkerConnection>> _idle = new();
    private bool _disposed;

    /// <summary>An idle connection to the endpoint that still looks open, or null.</summary>
    public WorkerConnection? TakeIdle(DnsEndPoint endpoint)
    {
        if (!_idle.TryGetValue(endpoint, out var stack))
        {
            return null;
        }

        var now = Environment.TickCount64;
        while (stack.TryPop(out var connection))
        {
            if (now - connection.IdleSince <= idleLimit.TotalMilliseconds && !connection.LooksClosed())
            {
                return connection;
            }

            connection.Dispose();
        }

        return null;
    }

    public async ValueTask<WorkerConnection> ConnectAsync(DnsEndPoint endpoint, CancellationToken cancellationToken) =>
        new(await connector.ConnectSocketAsync(endpoint, cancellationToken), endpoint);

    /// <summary>Keeps a connection whose exchange finished cleanly for the next request.</summary>
    public void Return(WorkerConnection connection)
    {
        var stack = _idle.GetOrAdd(connection.Endpoint, _ => new ConcurrentStack<WorkerConnection>());
        if (Volatile.Read(ref _disposed) || stack.Count >= maxIdlePerEndpoint)
        {
            connection.Dispose();
            return;
        }

        connection.Exchanges++;
        connection.IdleSince = Environment.TickCount64;
        stack.Push(connection);
    }

    public int IdleCount(DnsEndPoint endpoint) => _idle.TryGetValue(endpoint, out var stack) ? stack.Count : 0;

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        foreach (var stack in _idle.Values)
        {
            while (stack.TryPop(out var connection))
            {
                connection.Dispose();
            }
        }
    }
}
