using System.Net;
using System.Net.Sockets;

namespace Flywheel.Bench.Serving;

/// <summary>
/// The least any proxy process can cost: bytes relayed between the client and the worker by
/// blocking reads and writes, two threads per connection, no HTTP parsing, no thread pool and no
/// event loop. The kernel wakes the one thread that has data to pass on. Its latency above the
/// worker direct is what a second process in the path costs on this machine (two more socket
/// hops and two wake-ups), the floor under bare YARP and the gateway.
/// </summary>
public static class TcpRelay
{
    public static void Run(string destination, int port)
    {
        var target = new Uri(destination);
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start(backlog: 512);
        while (true)
        {
            var client = listener.AcceptSocket();
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                server.Connect(target.Host, target.Port);
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            client.NoDelay = true;
            server.NoDelay = true;
            Start(client, server);
            Start(server, client);
        }
    }

    private static void Start(Socket from, Socket to) =>
        new Thread(() => Pump(from, to)) { IsBackground = true, Name = "relay" }.Start();

    private static void Pump(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = from.Receive(buffer)) > 0)
            {
                var sent = 0;
                while (sent < read)
                {
                    sent += to.Send(buffer.AsSpan(sent, read - sent));
                }
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            // Either side closing ends the connection both ways.
            try
            {
                to.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }

            to.Dispose();
            from.Dispose();
        }
    }
}
