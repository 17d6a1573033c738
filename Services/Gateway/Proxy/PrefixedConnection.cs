using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// A Kestrel connection with bytes already read off its socket put back in front of the rest: what
/// <see cref="DataPlaneFront"/> read of a request before it found the request was not the fast
/// path's. The bytes and then everything the transport reads are copied into a pipe of the
/// connection's own, which Kestrel reads; what Kestrel writes goes straight to the transport.
/// </summary>
internal sealed class PrefixedConnection : ConnectionContext
{
    private readonly ConnectionContext _inner;
    private readonly Pipe _input = new(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
    private readonly Task _copying;

    public PrefixedConnection(ConnectionContext inner, byte[] read)
    {
        _inner = inner;
        Transport = new DuplexPipe(_input.Reader, inner.Transport.Output);
        _copying = CopyAsync(read);
    }

    public override IDuplexPipe Transport { get; set; }

    public override string ConnectionId
    {
        get => _inner.ConnectionId;
        set => _inner.ConnectionId = value;
    }

    public override IFeatureCollection Features => _inner.Features;

    public override IDictionary<object, object?> Items
    {
        get => _inner.Items;
        set => _inner.Items = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get => _inner.ConnectionClosed;
        set => _inner.ConnectionClosed = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _inner.LocalEndPoint;
        set => _inner.LocalEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _inner.RemoteEndPoint;
        set => _inner.RemoteEndPoint = value;
    }

    public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);

    public override void Abort() => _inner.Abort();

    public override async ValueTask DisposeAsync()
    {
        _input.Reader.Complete();
        _inner.Transport.Input.CancelPendingRead();
        await _copying;
        await _inner.DisposeAsync();
    }

    private async Task CopyAsync(byte[] read)
    {
        var source = _inner.Transport.Input;
        var target = _input.Writer;
        Exception? failure = null;
        try
        {
            var flushed = await target.WriteAsync(read);
            while (!flushed.IsCompleted)
            {
                var result = await source.ReadAsync();
                if (result.IsCanceled)
                {
                    break;
                }

                foreach (var segment in result.Buffer)
                {
                    target.Write(segment.Span);
                }

                source.AdvanceTo(result.Buffer.End);
                flushed = await target.FlushAsync();
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception exception)
        {
            failure = exception;
        }

        await source.CompleteAsync();
        await target.CompleteAsync(failure);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
