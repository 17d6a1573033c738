using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace Flywheel.Gateway.Transport;

/// <summary>
/// Kestrel's transport for the gateway's TCP endpoints. Each accepted connection, up to
/// <see cref="GatewayOptions.ConnectionThreads"/> at once, gets a thread of its own that reads it
/// with blocking calls and runs its requests where it read them: the kernel wakes that thread
/// when a request arrives, with no socket event thread and no thread-pool hand-off in between,
/// and a forward to a worker on this host blocks on the same thread (<see cref="Proxy.DirectForwarder"/>).
/// Connections beyond the limit get Kestrel's own socket transport, so a crowd of idle
/// connections costs no more threads than the limit. (docs/benchmarks.md, eleventh session.)
/// </summary>
public sealed partial class ConnectionThreadTransport : IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    private readonly SocketTransportOptions _sockets;
    private readonly SocketConnectionContextFactory _shared;
    private readonly MemoryPool<byte> _memory;
    private readonly ILogger<ConnectionThreadTransport> _logger;
    private int _threads;

    public ConnectionThreadTransport(
        IOptions<GatewayOptions> options, IOptions<SocketTransportOptions> sockets, IServiceProvider services, ILogger<ConnectionThreadTransport> logger)
    {
        _sockets = sockets.Value;
        _logger = logger;
        MaxThreads = options.Value.ConnectionThreads;
        _memory = services.GetService<IMemoryPoolFactory<byte>>()?.Create(new MemoryPoolOptions { Owner = "gateway-connection-threads" })
            ?? MemoryPool<byte>.Shared;
        _shared = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions
            {
                IOQueueCount = _sockets.IOQueueCount,
                MaxReadBufferSize = _sockets.MaxReadBufferSize,
                MaxWriteBufferSize = _sockets.MaxWriteBufferSize,
                UnsafePreferInlineScheduling = _sockets.UnsafePreferInlineScheduling,
                WaitForDataBeforeAllocatingBuffer = _sockets.WaitForDataBeforeAllocatingBuffer,
            },
            logger);
    }

    /// <summary>True on a thread that owns a client connection: it may block, and nothing else waits for it.</summary>
    public static bool IsConnectionThread => t_connectionThread;

    [ThreadStatic]
    private static bool t_connectionThread;

    public int MaxThreads { get; }

    /// <summary>Connections that have a thread of their own right now.</summary>
    public int ThreadedConnections => Volatile.Read(ref _threads);

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        Socket socket;
        try
        {
            socket = _sockets.CreateBoundListenSocket(endpoint);
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // What Kestrel's own transport throws, so Kestrel reports the port as taken.
            throw new AddressInUseException(exception.Message, exception);
        }

        try
        {
            socket.Listen(_sockets.Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        LogBound(socket.LocalEndPoint!.ToString()!, MaxThreads);
        return ValueTask.FromResult<IConnectionListener>(new Listener(this, socket));
    }

    public void Dispose()
    {
        _shared.Dispose();
        if (_memory != MemoryPool<byte>.Shared)
        {
            _memory.Dispose();
        }
    }

    private bool TryTakeThread()
    {
        while (true)
        {
            var taken = Volatile.Read(ref _threads);
            if (taken >= MaxThreads)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _threads, taken + 1, taken) == taken)
            {
                return true;
            }
        }
    }

    private void ReleaseThread() => Interlocked.Decrement(ref _threads);

    /// <summary>Accepts with blocking calls on a thread of its own, so accepted sockets are never touched by the event loop.</summary>
    private sealed class Listener : IConnectionListener
    {
        private readonly ConnectionThreadTransport _transport;
        private readonly Socket _socket;
        private readonly Channel<ConnectionContext> _accepted = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleWriter = true });
        private readonly Thread _thread;
        private volatile bool _unbinding;

        public Listener(ConnectionThreadTransport transport, Socket socket)
        {
            _transport = transport;
            _socket = socket;
            EndPoint = socket.LocalEndPoint!;
            _thread = new Thread(Accept) { IsBackground = true, Name = "Gateway accept" };
            _thread.UnsafeStart();
        }

        public EndPoint EndPoint { get; }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await _accepted.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbinding = true;
            // Closing the listening socket makes the blocked accept return (the runtime unblocks it on Linux).
            _socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync();
            _thread.Join(TimeSpan.FromSeconds(5));
            // Accepted but never taken by Kestrel: nobody else will close them.
            while (_accepted.Reader.TryRead(out var connection))
            {
                connection.Abort(new ConnectionAbortedException("The gateway stopped listening."));
                await connection.DisposeAsync();
            }
        }

        private void Accept()
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = _socket.Accept();
                }
                catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
                {
                    if (_unbinding)
                    {
                        break;
                    }

                    if (exception is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted })
                    {
                        // The client left before it was accepted.
                        continue;
                    }

                    // Out of descriptors or memory: back off rather than spin.
                    _transport.LogAcceptFailed(exception.Message);
                    Thread.Sleep(100);
                    continue;
                }

                ConnectionContext connection;
                try
                {
                    socket.NoDelay = _transport._sockets.NoDelay;
                    if (_transport.TryTakeThread())
                    {
                        var threaded = new ThreadConnection(socket, _transport);
                        threaded.Start();
                        connection = threaded;
                    }
                    else
                    {
                        connection = _transport._shared.Create(socket);
                    }
                }
                catch (Exception exception) when (exception is SocketException or ObjectDisposedException or OutOfMemoryException)
                {
                    _transport.LogAcceptFailed(exception.Message);
                    socket.Dispose();
                    continue;
                }

                _accepted.Writer.TryWrite(connection);
            }

            _accepted.Writer.TryComplete();
        }
    }

    /// <summary>
    /// One client connection and its thread. The thread reads with blocking calls and pushes what it
    /// read into Kestrel's input pipe, whose reader runs inline: Kestrel parses and handles the
    /// request on this thread. Kestrel's output pipe is read inline as well, by whoever flushes it,
    /// and sent with blocking calls.
    /// </summary>
    private sealed class ThreadConnection : ConnectionContext,
        IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
        IConnectionEndPointFeature, IMemoryPoolFeature
    {
        private const int MinReadBytes = 2048;
        private static long s_lastId;

        private readonly Socket _socket;
        private readonly ConnectionThreadTransport _transport;
        private readonly Pipe _input;
        private readonly Pipe _output;
        private readonly CancellationTokenSource _closed = new();
        private readonly TaskCompletionSource _threadDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _shutdownLock = new();
        private readonly FeatureCollection _features = new();
        private volatile Exception? _shutdownReason;
        private Task _sending = Task.CompletedTask;
        private string? _id;
        private IDictionary<object, object?>? _items;

        public ThreadConnection(Socket socket, ConnectionThreadTransport transport)
        {
            _socket = socket;
            _transport = transport;
            MemoryPool = transport._memory;
            var maxRead = transport._sockets.MaxReadBufferSize ?? 0;
            var maxWrite = transport._sockets.MaxWriteBufferSize ?? 0;
            _input = new Pipe(new PipeOptions(MemoryPool, PipeScheduler.Inline, PipeScheduler.Inline, maxRead, maxRead / 2, useSynchronizationContext: false));
            _output = new Pipe(new PipeOptions(MemoryPool, PipeScheduler.Inline, PipeScheduler.Inline, maxWrite, maxWrite / 2, useSynchronizationContext: false));
            Transport = new DuplexPipe(_input.Reader, _output.Writer);
            LocalEndPoint = socket.LocalEndPoint;
            RemoteEndPoint = socket.RemoteEndPoint;
            ConnectionClosed = _closed.Token;
            _features.Set<IConnectionIdFeature>(this);
            _features.Set<IConnectionTransportFeature>(this);
            _features.Set<IConnectionItemsFeature>(this);
            _features.Set<IConnectionLifetimeFeature>(this);
            _features.Set<IConnectionEndPointFeature>(this);
            _features.Set<IMemoryPoolFeature>(this);
        }

        public override string ConnectionId
        {
            get => _id ??= "T" + Interlocked.Increment(ref s_lastId).ToString("X8", System.Globalization.CultureInfo.InvariantCulture);
            set => _id = value;
        }

        public override IFeatureCollection Features => _features;

        public override IDictionary<object, object?> Items
        {
            get => _items ??= new Dictionary<object, object?>();
            set => _items = value;
        }

        public override IDuplexPipe Transport { get; set; }

        public MemoryPool<byte> MemoryPool { get; }

        public void Start()
        {
            var thread = new Thread(Receive) { IsBackground = true, Name = "Gateway connection" };
            _sending = SendAsync();
            thread.UnsafeStart();
        }

        public override void Abort(ConnectionAbortedException abortReason)
        {
            Shutdown(abortReason);
            // The send loop stops at once, without what Kestrel had not flushed yet.
            _output.Reader.CancelPendingRead();
        }

        public override async ValueTask DisposeAsync()
        {
            _input.Reader.Complete();
            _output.Writer.Complete();
            await _threadDone.Task;
            await _sending;
            _closed.Dispose();
        }

        private void Receive()
        {
            t_connectionThread = true;
            Exception? error = null;
            var input = _input.Writer;
            try
            {
                while (true)
                {
                    var memory = input.GetMemory(MinReadBytes);
                    var read = _socket.Receive(memory.Span, SocketFlags.None);
                    if (read == 0)
                    {
                        break;
                    }

                    input.Advance(read);
                    // Kestrel reads inline: the request runs here, inside this flush.
                    var flushing = input.FlushAsync();
                    var flushed = flushing.IsCompleted ? flushing.Result : flushing.AsTask().GetAwaiter().GetResult();
                    if (flushed.IsCompleted || flushed.IsCanceled)
                    {
                        break;
                    }
                }
            }
            catch (SocketException exception) when (IsReset(exception.SocketErrorCode))
            {
                error = new ConnectionResetException(exception.Message, exception);
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // Expected after Shutdown; the shutdown reason is what Kestrel sees then.
                error = exception;
            }
            catch (Exception exception)
            {
                error = exception;
                _transport.LogConnectionError(ConnectionId, exception);
            }
            finally
            {
                input.Complete(_shutdownReason ?? error);
                try
                {
                    _closed.Cancel();
                }
                catch (Exception exception)
                {
                    _transport.LogConnectionError(ConnectionId, exception);
                }

                _transport.ReleaseThread();
                _threadDone.TrySetResult();
            }
        }

        private async Task SendAsync()
        {
            Exception? reason = null;
            Exception? unexpected = null;
            var output = _output.Reader;
            try
            {
                while (true)
                {
                    var result = await output.ReadAsync();
                    if (result.IsCanceled)
                    {
                        break;
                    }

                    var buffer = result.Buffer;
                    if (!buffer.IsEmpty)
                    {
                        Send(buffer);
                    }

                    output.AdvanceTo(buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (SocketException exception) when (IsReset(exception.SocketErrorCode))
            {
                reason = new ConnectionResetException(exception.Message, exception);
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                reason = exception;
            }
            catch (Exception exception)
            {
                reason = unexpected = exception;
                _transport.LogConnectionError(ConnectionId, exception);
            }
            finally
            {
                Shutdown(reason);
                output.Complete(unexpected);
                // A receive waiting for Kestrel to make room must not wait for a reader that has gone.
                _input.Writer.CancelPendingFlush();
            }
        }

        private void Send(in ReadOnlySequence<byte> buffer)
        {
            if (buffer.IsSingleSegment)
            {
                SendAll(buffer.FirstSpan);
                return;
            }

            if (buffer.Length <= 64 * 1024)
            {
                // One send for a response that spans pool blocks: one packet where it fits.
                var length = (int)buffer.Length;
                var joined = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    buffer.CopyTo(joined);
                    SendAll(joined.AsSpan(0, length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(joined);
                }

                return;
            }

            foreach (var segment in buffer)
            {
                SendAll(segment.Span);
            }
        }

        private void SendAll(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                bytes = bytes[_socket.Send(bytes, SocketFlags.None)..];
            }
        }

        private void Shutdown(Exception? reason)
        {
            lock (_shutdownLock)
            {
                if (_shutdownReason is not null)
                {
                    return;
                }

                _shutdownReason = reason ?? new ConnectionAbortedException("The connection's send loop completed gracefully.");
                try
                {
                    // Wakes the blocked receive with an end of stream; the peer sees a FIN.
                    _socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                    // Already reset by the peer: there is nothing left to close gracefully.
                }

                _socket.Dispose();
            }
        }

        private static bool IsReset(SocketError error) => error is SocketError.ConnectionReset or SocketError.Shutdown;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening on {EndPoint}: up to {Threads} connections get a thread of their own, the rest Kestrel's socket transport")]
    private partial void LogBound(string endPoint, int threads);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting a connection failed: {Reason}")]
    private partial void LogAcceptFailed(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {ConnectionId} failed unexpectedly")]
    private partial void LogConnectionError(string connectionId, Exception exception);
}
