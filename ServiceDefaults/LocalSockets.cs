using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Flywheel.Contracts.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// A same-host shortcut between the gateway and a service: the service listens on a Unix domain
/// socket as well as on its TCP address, and a caller on the same host connects through the socket
/// instead of loopback TCP, which skips the kernel's TCP stack. On the 2-core machine a bare round
/// trip took 0.055–0.07 ms less at the median, and the gateway's hop about 0.04 ms less
/// (docs/benchmarks.md). The socket is named after the service's TCP port (<see cref="LocalSocketPaths"/>), so a
/// caller that has resolved a loopback address knows where to look and needs no other discovery.
/// Locally the AppHost sets both ends up; anywhere else (no setting, another host, no socket there,
/// nobody answering on it) the caller connects over TCP as it always did.
/// </summary>
public static class LocalSockets
{
    /// <summary>The socket a service listens on, in addition to its URLs (set by the AppHost).</summary>
    public const string ListenKey = "Flywheel:LocalSocket";

    /// <summary>
    /// Listens on <see cref="ListenKey"/>'s socket as well as on the URLs the host was given
    /// (Kestrel's own <c>http://unix:</c> address). A socket file left behind by a process that
    /// died is removed first; one that something still answers on is an error, as a TCP port in
    /// use would be.
    /// </summary>
    public static WebApplicationBuilder ListenOnLocalSocket(this WebApplicationBuilder builder)
    {
        var path = builder.Configuration[ListenKey];
        if (string.IsNullOrWhiteSpace(path))
        {
            return builder;
        }

        if (!Path.IsPathFullyQualified(path) || !LocalSocketPaths.Fits(path))
        {
            throw new InvalidOperationException(
                $"{ListenKey} must be an absolute path of at most {LocalSocketPaths.MaxPathBytes} bytes (a Unix socket address holds no more); it is '{path}'.");
        }

        LocalSocketPaths.CreateFolder(Path.GetDirectoryName(path)!);
        RemoveStale(path);
        builder.WebHost.UseUrls([.. Urls(builder.Configuration), $"http://unix:{path}"]);
        return builder;
    }

    /// <summary>
    /// The addresses Kestrel would bind without the socket: <c>urls</c> (ASPNETCORE_URLS), else
    /// <c>http_ports</c> on every interface, else Kestrel's default. Setting URLs replaces them, so
    /// they are carried over.
    /// </summary>
    public static IReadOnlyList<string> Urls(IConfiguration configuration)
    {
        if (configuration[WebHostDefaults.ServerUrlsKey] is { } urls && !string.IsNullOrWhiteSpace(urls))
        {
            return urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        if (configuration[WebHostDefaults.HttpPortsKey] is { } ports && !string.IsNullOrWhiteSpace(ports))
        {
            return [.. ports.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(port => $"http://*:{port}")];
        }

        return ["http://localhost:5000"];
    }

    /// <summary>
    /// Deletes a socket file nobody answers on (a process that died does not remove its socket,
    /// and binding to the path would fail). Throws when something does answer on it.
    /// </summary>
    public static void RemoveStale(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new InvalidOperationException($"Another process is listening on the local socket '{path}'.");
            }
            catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionRefused)
            {
            }
        }

        File.Delete(path);
    }
}

/// <summary>
/// Connects an <see cref="SocketsHttpHandler"/> (its <c>ConnectCallback</c>) to a service through
/// its local socket when the address is a loopback one and the socket is there, else over TCP as the
/// handler's own connect does (no Nagle delay). A socket that refuses the connection falls back to
/// TCP for that connection. Which way each address goes is logged once, and again when it changes.
/// </summary>
public sealed partial class LocalSocketConnector(string? directory, ILogger<LocalSocketConnector> logger)
{
    private readonly string? _directory = string.IsNullOrWhiteSpace(directory) ? null : directory;
    private readonly ConcurrentDictionary<DnsEndPoint, string> _transports = new();

    /// <summary>Whether there is a folder of local sockets to look in (without one every connection is TCP).</summary>
    public bool Enabled => _directory is not null;

    /// <summary>A handler for a client of its own that connects as this connector does.</summary>
    public SocketsHttpHandler CreateHandler()
    {
        var handler = new SocketsHttpHandler();
        if (Enabled)
        {
            handler.ConnectCallback = ConnectAsync;
        }

        return handler;
    }

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        new NetworkStream(await ConnectSocketAsync(context.DnsEndPoint, cancellationToken), ownsSocket: true);

    /// <summary>A connected socket to the endpoint: its local socket when there is one that answers, else TCP without Nagle's delay.</summary>
    public ValueTask<Socket> ConnectSocketAsync(DnsEndPoint endpoint, CancellationToken cancellationToken) =>
        ConnectCoreAsync(endpoint, blocking: false, cancellationToken);

    /// <summary>
    /// As <see cref="ConnectSocketAsync"/>, connecting with a blocking call. A socket that has only
    /// ever been used with blocking calls stays a blocking socket in the kernel, so a thread waiting
    /// on it is woken by the kernel itself; after one asynchronous call .NET emulates blocking calls
    /// through its socket event thread. Meant for loopback addresses, where a connect answers at once.
    /// </summary>
    public Socket ConnectSocket(DnsEndPoint endpoint)
    {
        var connecting = ConnectCoreAsync(endpoint, blocking: true, CancellationToken.None);
        // Every step completed synchronously.
        return connecting.IsCompleted ? connecting.Result : connecting.AsTask().GetAwaiter().GetResult();
    }

    private async ValueTask<Socket> ConnectCoreAsync(DnsEndPoint endpoint, bool blocking, CancellationToken cancellationToken)
    {
        if (_directory is not null && IsLoopback(endpoint.Host))
        {
            var path = LocalSocketPaths.PathFor(_directory, endpoint.Port);
            if (File.Exists(path))
            {
                var local = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    if (blocking)
                    {
                        local.Connect(new UnixDomainSocketEndPoint(path));
                    }
                    else
                    {
                        await local.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    }

                    Note(endpoint, path);
                    return local;
                }
                catch (SocketException exception)
                {
                    local.Dispose();
                    LogFallingBack(endpoint.Host, endpoint.Port, path, exception.SocketErrorCode);
                }
                catch
                {
                    // Cancelled: the caller gives up on this connection altogether.
                    local.Dispose();
                    throw;
                }
            }
        }

        var tcp = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (blocking)
            {
                tcp.Connect(endpoint);
            }
            else
            {
                await tcp.ConnectAsync(endpoint, cancellationToken);
            }

            Note(endpoint, "tcp");
            return tcp;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Whether the host is this machine's loopback (<c>localhost</c> or a loopback address).</summary>
    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    private void Note(DnsEndPoint endpoint, string transport)
    {
        if (!_transports.TryGetValue(endpoint, out var before) || before != transport)
        {
            _transports[endpoint] = transport;
            LogConnected(endpoint.Host, endpoint.Port, transport);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connections to {Host}:{Port} go through {Transport}")]
    private partial void LogConnected(string host, int port, string transport);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The local socket {Path} for {Host}:{Port} refused the connection ({Error}); connecting over TCP")]
    private partial void LogFallingBack(string host, int port, string path, SocketError error);
}
