using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Flywheel.Gateway.Traffic;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// The gateway's TCP front for the data-plane fast path: a Kestrel transport that accepts each
/// connection itself and serves it on a thread of its own with blocking socket calls, as a minimal
/// relay would, for as long as its requests are plain predict and infer calls the fast path takes
/// (<see cref="DataPlaneConnections"/>). The kernel then wakes that thread directly when a request
/// arrives, and again when the worker answers on a blocking connection, with no event loop or
/// thread pool in between (docs/serving.md, "The fast path").
/// <para>
/// Whether a request is one it takes is decided on bytes peeked at, not read, so a connection whose
/// first request is anything else goes to Kestrel's own socket transport untouched. A request that
/// arrives in pieces is read as it comes; when such a one is not taken after all, Kestrel gets the
/// connection with what was read put back in front of the rest. Everything Kestrel gets passes its
/// connection middleware and HTTP handler as any other connection does. TLS, HTTP/2 and Unix
/// sockets are left to Kestrel; so are the connections beyond
/// <see cref="GatewayOptions.FastPathThreads"/>.
/// </para>
/// </summary>
internal sealed partial class DataPlaneFront : IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    /// <summary>How much of a connection's next request is peeked at; a larger one is read as it comes.</summary>
    internal const int PeekBytes = 16 * 1024;

    /// <summary>How often calls in progress are checked for a client that left; one that left has its call ended, as Kestrel's would.</summary>
    internal static readonly TimeSpan ClientCheckInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How long one write of an answer may wait for a client that does not read.</summary>
    internal static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);

    private readonly DataPlaneConnections _fastPath;
    private readonly SocketTransportOptions _sockets;
    private readonly SocketConnectionContextFactory? _kestrelConnections;
    private readonly ILogger<DataPlaneFront> _logger;
    private readonly int _maxThreads;
    private readonly TimeSpan _idleOnThread;
    private int _threads;

    public DataPlaneFront(
        DataPlaneConnections fastPath,
        IOptions<GatewayOptions> options,
        IOptions<SocketTransportOptions> sockets,
        ILoggerFactory loggers)
    {
        _fastPath = fastPath;
        _sockets = sockets.Value;
        _logger = loggers.CreateLogger<DataPlaneFront>();
        _maxThreads = options.Value.FastPathThreads;
        _idleOnThread = options.Value.FastPathThreadIdleTimeout;
        Enabled = fastPath.Enabled && _maxThreads > 0;
        // Kestrel's own connections for what the front hands on; made only when the front is on.
        _kestrelConnections = !Enabled ? null : new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions
            {
                IOQueueCount = _sockets.IOQueueCount,
                WaitForDataBeforeAllocatingBuffer = _sockets.WaitForDataBeforeAllocatingBuffer,
                MaxReadBufferSize = _sockets.MaxReadBufferSize,
                MaxWriteBufferSize = _sockets.MaxWriteBufferSize,
                UnsafePreferInlineScheduling = _sockets.UnsafePreferInlineScheduling,
            },
            loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));
        if (Enabled)
        {
            LogEnabled(_maxThreads);
        }
    }

    public bool Enabled { get; }

    /// <summary>Connections being served on threads of their own now.</summary>
    public int Threads => Volatile.Read(ref _threads);

    /// <summary>Lets the front accept the gateway's TCP endpoints; Kestrel's socket transport keeps the rest.</summary>
    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<DataPlaneFront>();
        // Kestrel tries the transports registered last first, asking each whether it binds the endpoint.
        services.AddSingleton<IConnectionListenerFactory>(provider => provider.GetRequiredService<DataPlaneFront>());
    }

    public bool CanBind(EndPoint endpoint) => Enabled && endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = _sockets.CreateBoundListenSocket(endpoint);
        try
        {
            socket.Listen(_sockets.Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return ValueTask.FromResult<IConnectionListener>(new Listener(this, socket));
    }

    public void Dispose() => _kestrelConnections?.Dispose();

    private bool TryReserveThread()
    {
        while (true)
        {
            var threads = Volatile.Read(ref _threads);
            if (threads >= _maxThreads)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _threads, threads + 1, threads) == threads)
            {
                return true;
            }
        }
    }

    private static T Wait<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();

    private static int Milliseconds(TimeSpan timeout) =>
        // 0 is no limit for a socket, as Kestrel's TimeSpan.MaxValue is.
        timeout <= TimeSpan.Zero || timeout >= DataPlaneConnections.MaxTimer ? 0 : Math.Max(1, (int)Math.Ceiling(timeout.TotalMilliseconds));

    [LoggerMessage(Level = LogLevel.Information, Message = "The gateway accepts its TCP connections itself: up to {Threads} at a time are served on threads of their own while their requests are predict and infer calls the fast path takes; the rest go to Kestrel")]
    private partial void LogEnabled(int threads);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting a connection on {EndPoint} failed: {Reason}")]
    private partial void LogAcceptFailed(string endPoint, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "A fast-path connection ended on an unexpected error")]
    private partial void LogConnectionFailed(Exception exception);

    /// <summary>One bound endpoint: the accept thread, the connections on threads of their own, and those handed to Kestrel waiting to be accepted.</summary>
    private sealed class Listener : IConnectionListener
    {
        private readonly DataPlaneFront _front;
        private readonly Socket _socket;
        private readonly Channel<ConnectionContext> _toKestrel = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });
        private readonly ConcurrentDictionary<FrontConnection, byte> _connections = new();
        private readonly CancellationTokenSource _stopping = new();
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Thread _acceptThread;
        private readonly Timer _clientCheck;
        private readonly CancellationToken _stoppingToken;
        private CancellationToken _shutdownTimeout;
        private int _unbound;

        public Listener(DataPlaneFront front, Socket socket)
        {
            _front = front;
            _socket = socket;
            EndPoint = socket.LocalEndPoint!;
            _stoppingToken = _stopping.Token;
            _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "Gateway accept" };
            _acceptThread.UnsafeStart();
            using (ExecutionContext.SuppressFlow())
            {
                _clientCheck = new Timer(static state => ((Listener)state!).CheckClients(), this, ClientCheckInterval, ClientCheckInterval);
            }
        }

        public EndPoint EndPoint { get; }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await _toKestrel.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _unbound, 1) == 1)
            {
                return ValueTask.CompletedTask;
            }

            // Kestrel cancels this token when the host's shutdown timeout passes; the drain in DisposeAsync ends then too.
            _shutdownTimeout = cancellationToken;
            _stopping.Cancel();
            // Disposing the listening socket wakes the accept thread; idle connections end now, busy ones after their call.
            _socket.Dispose();
            _acceptThread.Join(TimeSpan.FromSeconds(5));
            foreach (var connection in _connections.Keys)
            {
                connection.CloseIfIdle();
            }

            _toKestrel.Writer.TryComplete();
            Drained();
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync();
            // A call in progress finishes (its own timeout bounds it) unless the host's shutdown timeout passes first.
            await _drained.Task.WaitAsync(DataPlaneConnections.Sum(_front._fastPath.CallTimeout, TimeSpan.FromSeconds(5)), _shutdownTimeout)
                .ContinueWith(static _ => { }, TaskScheduler.Default);
            foreach (var connection in _connections.Keys)
            {
                connection.EndCall();
                connection.Close();
            }

            await _clientCheck.DisposeAsync();
            while (_toKestrel.Reader.TryRead(out var declined))
            {
                await declined.DisposeAsync();
            }
        }

        private void CheckClients()
        {
            foreach (var connection in _connections.Keys)
            {
                connection.EndCallIfClientLeft(ClientCheckInterval);
            }
        }

        private void Drained()
        {
            if (_connections.IsEmpty && Volatile.Read(ref _unbound) == 1)
            {
                _drained.TrySetResult();
            }
        }

        private void AcceptLoop()
        {
            while (!_stopping.IsCancellationRequested)
            {
                Socket accepted;
                try
                {
                    accepted = _socket.Accept();
                }
                catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
                {
                    if (_stopping.IsCancellationRequested)
                    {
                        return;
                    }

                    // Out of descriptors or a connection reset before it was accepted: the next one may do.
                    _front.LogAcceptFailed(EndPoint.ToString() ?? "", exception.Message);
                    Thread.Sleep(10);
                    continue;
                }

                try
                {
                    accepted.NoDelay = _front._sockets.NoDelay;
                }
                catch (SocketException)
                {
                    accepted.Dispose();
                    continue;
                }

                if (!_front.TryReserveThread())
                {
                    ToKestrel(accepted, ReadOnlyMemory<byte>.Empty, declined: false);
                    continue;
                }

                var connection = new FrontConnection(accepted);
                _connections.TryAdd(connection, 0);
                try
                {
                    new Thread(() => Run(connection)) { IsBackground = true, Name = "Gateway connection" }.UnsafeStart();
                }
                catch (Exception exception)
                {
                    // No thread to be had: the reservation is given back and Kestrel serves the connection.
                    _front.LogAcceptFailed(EndPoint.ToString() ?? "", exception.Message);
                    _connections.TryRemove(connection, out _);
                    Interlocked.Decrement(ref _front._threads);
                    ToKestrel(accepted, ReadOnlyMemory<byte>.Empty, declined: false);
                    Drained();
                }
            }
        }

        /// <summary>Gives Kestrel the connection, with what was already read of it (if anything) in front of the rest.</summary>
        private bool ToKestrel(Socket socket, ReadOnlyMemory<byte> read, bool declined = true)
        {
            ConnectionContext connection;
            try
            {
                // Bound only when on (CanBind), so the factory is there.
                connection = _front._kestrelConnections!.Create(socket);
            }
            catch (Exception exception)
            {
                _front.LogAcceptFailed(EndPoint.ToString() ?? "", exception.Message);
                socket.Dispose();
                return true;
            }

            if (!read.IsEmpty)
            {
                connection = new PrefixedConnection(connection, read.ToArray());
            }

            if (declined)
            {
                // Kestrel's connection middleware would only look at the same request again. Counted
                // before Kestrel has it, so that the count is there by the time it answers.
                connection.Items[DataPlaneConnections.DeclinedByFront] = true;
                _front._fastPath.CountHandOff();
            }

            if (!_toKestrel.Writer.TryWrite(connection))
            {
                // The endpoint is unbound: nothing accepts it any more.
                connection.Abort();
                _ = connection.DisposeAsync().AsTask();
            }

            return true;
        }

        private void Run(FrontConnection connection)
        {
            var handedOff = false;
            try
            {
                handedOff = Serve(connection);
            }
            catch (Exception exception)
            {
                _front.LogConnectionFailed(exception);
            }
            finally
            {
                if (!handedOff)
                {
                    connection.Close();
                }

                Interlocked.Decrement(ref _front._threads);
                _connections.TryRemove(connection, out _);
                Drained();
            }
        }

        /// <summary>Serves the connection's requests until one is not the fast path's; true when the connection went to Kestrel.</summary>
        private bool Serve(FrontConnection connection)
        {
            var fastPath = _front._fastPath;
            var socket = connection.Socket;
            socket.SendTimeout = Milliseconds(SendTimeout);
            var remote = socket.RemoteEndPoint;
            var keepAlive = fastPath.KeepAliveTimeout;
            var idleLimit = keepAlive <= TimeSpan.Zero || keepAlive > _front._idleOnThread ? _front._idleOnThread : keepAlive;
            var peeked = new byte[PeekBytes];
            var read = new Reading();
            var output = new ArrayBufferWriter<byte>(1024);
            var sequence = 0;
            while (true)
            {
                DataPlaneRequest? request;
                byte[] body;
                if (read.Length == 0)
                {
                    // Between requests: the client leaving or a shutdown ends the connection; a long wait hands it to Kestrel.
                    var available = connection.Receive(peeked, SocketFlags.Peek, Milliseconds(idleLimit));
                    if (available == FrontConnection.TimedOut && idleLimit != keepAlive)
                    {
                        // Kestrel keeps the connection for its keep-alive time, and its connection middleware takes
                        // the connection's next calls; this thread is free for another.
                        return connection.TryBusy() && ToKestrel(socket, ReadOnlyMemory<byte>.Empty, declined: false);
                    }

                    if (available <= 0 || !connection.TryBusy())
                    {
                        return false;
                    }

                    var parse = fastPath.Parse(peeked.AsSpan(0, available), out request);
                    if (parse == HeadParse.NotTaken)
                    {
                        return ToKestrel(socket, ReadOnlyMemory<byte>.Empty);
                    }

                    if (parse == HeadParse.Parsed && available >= request!.HeadLength + request.ContentLength)
                    {
                        body = peeked.AsSpan(request.HeadLength, request.ContentLength).ToArray();
                        var call = Admit(connection, request, body, remote);
                        if (call is null)
                        {
                            return ToKestrel(socket, ReadOnlyMemory<byte>.Empty);
                        }

                        // The request is taken: its bytes, already here, are read off the socket.
                        if (!connection.ReceiveExactly(peeked.AsSpan(0, request.HeadLength + request.ContentLength)))
                        {
                            call.Dispose();
                            return false;
                        }

                        if (!Answer(connection, call, request, body, output, ++sequence))
                        {
                            return false;
                        }

                        continue;
                    }

                    // Part of a request: from here it is read as it comes.
                    read.Ensure(available);
                    if (!connection.ReceiveExactly(read.Free[..available]))
                    {
                        return false;
                    }

                    read.Length = available;
                }
                else if (!connection.TryBusy())
                {
                    return false;
                }

                if (!ReadWhole(connection, read, out request))
                {
                    // Not taken, too slow, or cut off before it was whole: Kestrel gets what came, and answers it or sees the end.
                    return ToKestrel(socket, read.Bytes);
                }

                body = read.Bytes.Span.Slice(request!.HeadLength, request.ContentLength).ToArray();
                var admitted = Admit(connection, request, body, remote);
                if (admitted is null)
                {
                    return ToKestrel(socket, read.Bytes);
                }

                read.Consume(request.HeadLength + request.ContentLength);
                if (!Answer(connection, admitted, request, body, output, ++sequence))
                {
                    return false;
                }
            }
        }

        /// <summary>
        /// Reads until the request at the start of <paramref name="read"/> is whole, within Kestrel's
        /// header timeout and its minimum body rate's grace period; false when it is not one the fast
        /// path takes after all, or is slower than that (Kestrel then reads the rest at its own pace).
        /// </summary>
        private bool ReadWhole(FrontConnection connection, Reading read, out DataPlaneRequest? request)
        {
            var fastPath = _front._fastPath;
            var started = Stopwatch.GetTimestamp();
            var limit = fastPath.HeadersTimeout;
            var bodyTimed = false;
            while (true)
            {
                var parse = fastPath.Parse(read.Bytes.Span, out request);
                if (parse == HeadParse.NotTaken)
                {
                    return false;
                }

                int wanted;
                if (parse == HeadParse.Parsed)
                {
                    var needed = request!.HeadLength + request.ContentLength;
                    if (read.Length >= needed)
                    {
                        return true;
                    }

                    if (!bodyTimed)
                    {
                        bodyTimed = true;
                        limit = limit >= DataPlaneConnections.MaxTimer ? limit : limit + fastPath.BodyGracePeriod;
                    }

                    // Room for what comes, not for what the head announces.
                    wanted = (int)Math.Min(needed, read.Length + 64L * 1024);
                }
                else
                {
                    wanted = Math.Min(read.Length + 4096, DataPlaneRequest.MaxHeadBytes + 1);
                }

                var timeout = 0;
                if (limit > TimeSpan.Zero && limit < DataPlaneConnections.MaxTimer)
                {
                    var left = limit - Stopwatch.GetElapsedTime(started);
                    if (left <= TimeSpan.Zero)
                    {
                        return false;
                    }

                    timeout = Milliseconds(left);
                }

                read.Ensure(wanted);
                var received = connection.Receive(read.Free, SocketFlags.None, timeout);
                if (received <= 0)
                {
                    return false;
                }

                read.Length += received;
            }
        }

        /// <summary>The call admitted, its time counted from here; null when the pipeline should have it.</summary>
        private CallWatch? Admit(FrontConnection connection, DataPlaneRequest request, byte[] body, EndPoint? remote)
        {
            var fastPath = _front._fastPath;
            var caller = fastPath.Caller(remote, request);
            var watch = new CallWatch(caller);
            // A key that must be looked up gets the header timeout.
            watch.Arm(fastPath.HeadersTimeout);
            var admitted = Wait(fastPath.AdmitAsync(request, body, caller, watch.Token));
            if (admitted is null)
            {
                watch.Dispose();
                return null;
            }

            watch.Admitted = admitted;
            return watch;
        }

        private bool Answer(FrontConnection connection, CallWatch watch, DataPlaneRequest request, byte[] body, ArrayBufferWriter<byte> output, int sequence)
        {
            var fastPath = _front._fastPath;
            bool keep;
            try
            {
                watch.Arm(fastPath.CallTimeout);
                // Checked for a client that left from here: the request's bytes are all read, so a readable socket with nothing to read is its end.
                connection.Watch(watch);
                using var activity = fastPath.StartServerActivity(request);
                var call = new SocketCall(connection, watch, output, request, body, watch.Admitted!.Role, watch.Caller!, activity, _stoppingToken,
                    $"{connection.Id}:{sequence.ToString("X8", CultureInfo.InvariantCulture)}");
                // Past its time, or with its client gone, the worker's answer being relayed is cut off: a blocked
                // write must not hold the thread. (Before that, the call ends with the gateway's own 504.)
                using var cut = watch.Token.UnsafeRegister(static state =>
                {
                    var (call, connection) = ((SocketCall, FrontConnection))state!;
                    if (call.RelayStarted)
                    {
                        connection.Shutdown();
                    }
                }, (call, connection));
                keep = Wait(fastPath.AnswerAsync(call, watch.Admitted, watch.Token));
            }
            finally
            {
                connection.Unwatch(watch);
                watch.Dispose();
            }

            return keep && connection.TryIdle() && !_stoppingToken.IsCancellationRequested;
        }
    }

    /// <summary>One call on a front connection: its caller and admission, its time limit, and whether its client was found gone.</summary>
    private sealed class CallWatch(DataPlaneConnections.ClientOrigin? caller) : IDisposable
    {
        private readonly CancellationTokenSource _timer = new();
        private volatile bool _clientLeft;

        public long Started { get; private set; } = Stopwatch.GetTimestamp();

        public DataPlaneConnections.ClientOrigin? Caller => caller;

        public AdmittedCall? Admitted { get; set; }

        public CancellationToken Token => _timer.Token;

        public bool ClientLeft => _clientLeft;

        public void Arm(TimeSpan timeout)
        {
            Started = Stopwatch.GetTimestamp();
            var milliseconds = Milliseconds(timeout);
            _timer.CancelAfter(milliseconds == 0 ? Timeout.Infinite : milliseconds);
        }

        /// <summary>Ends the call (its client left, or the gateway cannot wait for it any longer).</summary>
        public void End(bool clientLeft)
        {
            if (clientLeft)
            {
                _clientLeft = true;
            }

            try
            {
                _timer.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The call ended meanwhile.
            }
        }

        public void Dispose() => _timer.Dispose();
    }

    /// <summary>What was read of a connection's requests and not answered yet.</summary>
    private sealed class Reading
    {
        private byte[] _buffer = [];

        public int Length { get; set; }

        public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, Length);

        public Span<byte> Free => _buffer.AsSpan(Length);

        public void Ensure(int total)
        {
            if (_buffer.Length < total)
            {
                Array.Resize(ref _buffer, Math.Max(total, Math.Min(_buffer.Length * 2, PeekBytes * 4)));
            }
        }

        public void Consume(int count)
        {
            Buffer.BlockCopy(_buffer, count, _buffer, 0, Length - count);
            Length -= count;
        }
    }

    /// <summary>A client connection served on its own thread: idle between requests (a shutdown may close it then), busy during one.</summary>
    private sealed class FrontConnection(Socket socket)
    {
        /// <summary>What <see cref="Receive"/> answers when its time passed.</summary>
        public const int TimedOut = -1;

        private const int Idle = 0;
        private const int Busy = 1;
        private const int Closed = 2;
        private static long s_lastId;
        private int _state;
        private int _receiveTimeout = -1;
        private CallWatch? _call;

        public Socket Socket => socket;

        public string Id { get; } = "F" + Interlocked.Increment(ref s_lastId).ToString("X8", CultureInfo.InvariantCulture);

        public bool TryBusy() => Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle;

        public bool TryIdle() => Interlocked.CompareExchange(ref _state, Idle, Busy) == Busy;

        public void Watch(CallWatch call) => Volatile.Write(ref _call, call);

        public void Unwatch(CallWatch call) => Interlocked.CompareExchange(ref _call, null, call);

        /// <summary>Ends the call in progress, if any (the gateway is out of time to wait for it).</summary>
        public void EndCall() => Volatile.Read(ref _call)?.End(clientLeft: false);

        /// <summary>
        /// Ends the call in progress, if it has run for <paramref name="after"/> and its client has
        /// closed the connection (readable with nothing to read) or reset it.
        /// </summary>
        public void EndCallIfClientLeft(TimeSpan after)
        {
            var call = Volatile.Read(ref _call);
            if (call is null || Stopwatch.GetElapsedTime(call.Started) < after)
            {
                return;
            }

            try
            {
                if (!socket.Poll(0, SelectMode.SelectRead) || socket.Available > 0)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // Reset or closed: gone as well.
            }

            // A call that ended meanwhile is ended again, which changes nothing: each call has a watch of its own.
            call.End(clientLeft: true);
        }

        /// <summary>Ends the connection if it is between requests; a blocked read then returns.</summary>
        public void CloseIfIdle()
        {
            if (Interlocked.CompareExchange(ref _state, Closed, Idle) == Idle)
            {
                Shutdown();
            }
        }

        public void Close()
        {
            Volatile.Write(ref _state, Closed);
            Shutdown();
            socket.Dispose();
        }

        public void Shutdown()
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // Already gone.
            }
        }

        /// <summary>A blocking read within <paramref name="timeoutMilliseconds"/> (0: no limit); 0 at the end of the stream, <see cref="TimedOut"/> when the time passed, −2 on an error.</summary>
        public int Receive(Span<byte> buffer, SocketFlags flags, int timeoutMilliseconds)
        {
            try
            {
                if (_receiveTimeout != timeoutMilliseconds)
                {
                    socket.ReceiveTimeout = timeoutMilliseconds;
                    _receiveTimeout = timeoutMilliseconds;
                }

                return socket.Receive(buffer, flags);
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                return TimedOut;
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                return -2;
            }
        }

        /// <summary>Reads bytes the kernel already holds (they were peeked at).</summary>
        public bool ReceiveExactly(Span<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                var received = Receive(buffer, SocketFlags.None, _receiveTimeout < 0 ? 0 : _receiveTimeout);
                if (received <= 0)
                {
                    return false;
                }

                buffer = buffer[received..];
            }

            return true;
        }
    }

    /// <summary>A call the fast path admitted on the front's own connection: its answer is written with blocking sends.</summary>
    private sealed class SocketCall(
        FrontConnection connection, CallWatch watch, ArrayBufferWriter<byte> output, DataPlaneRequest request, byte[] body, string role,
        DataPlaneConnections.ClientOrigin caller, Activity? activity, CancellationToken closing, string traceIdentifier)
        : FastPathCall(request, body, role, caller, activity, watch.Token, closing, traceIdentifier)
    {
        private bool _gone;

        public override bool MayBlock => true;

        public override bool ClientGone => _gone || watch.ClientLeft;

        protected override void Write(ReadOnlySpan<byte> bytes)
        {
            if (!_gone)
            {
                output.Write(bytes);
            }
        }

        protected override ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            Send();
            return ValueTask.CompletedTask;
        }

        protected override ValueTask FlushProblemAsync()
        {
            // A client that does not read gets SendTimeout per write.
            Send();
            return ValueTask.CompletedTask;
        }

        protected override void AbortConnection()
        {
            _gone = true;
            output.ResetWrittenCount();
            connection.Shutdown();
            // The worker's exchange ends too, as Kestrel's closed connection would end it.
            watch.End(clientLeft: true);
        }

        private void Send()
        {
            if (_gone || output.WrittenCount == 0)
            {
                output.ResetWrittenCount();
                return;
            }

            try
            {
                var pending = output.WrittenSpan;
                while (!pending.IsEmpty)
                {
                    pending = pending[connection.Socket.Send(pending)..];
                }

                output.ResetWrittenCount();
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // The client left or stopped reading: the rest of the answer has nowhere to go.
                Abort();
            }
        }
    }
}
