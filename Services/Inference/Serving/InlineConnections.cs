using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Flywheel.Inference.Serving;

/// <summary>
/// Handles each client connection's requests on the socket event thread that received their bytes,
/// as a single-threaded event loop does, instead of handing every request to a thread-pool thread.
/// <para><b>Why:</b> on a small machine the hand-off is what a request costs most. Idle thread-pool
/// threads spin before they sleep so that the next hand-off finds one awake; between requests at a
/// moderate rate that spinning took about half of the worker's CPU (at 3,725 req/s on 2 cores the
/// worker used 0.8 of a core, about half of it spinning; <c>onnxruntime-node</c> used half a core
/// at 4,657), and the cores it took were the ones the callers, the database and the next request
/// needed. Handled on the event thread, a request wakes one thread and no pool thread spins for it
/// (docs/benchmarks.md, twelfth session).</para>
/// <para><b>What runs there:</b> only the client connections' reading, parsing, validation, scoring
/// of a request that batches with nobody, and the answer, for bodies up to
/// <see cref="InferenceOptions.InlineBodyBytes"/>; a larger request is read there and handled on the
/// thread pool (<see cref="Requests.ReadJsonAsync"/>), so that it does not hold up the event
/// thread's other connections. The switch is per socket
/// (<c>Socket.PreferInlineCompletions</c>), so the database, Redis, RabbitMQ and Blob connections
/// still complete on the thread pool, and the prediction log's writes never run on an event thread.
/// Requests that wait for Redis, or for a batch held on a timer, resume on the thread pool as
/// before; with the default no-wait batching only the requests of a shared call do
/// (<see cref="Batcher"/>).</para>
/// <para><b>A connection's first requests:</b> Kestrel starts reading a connection before the
/// switch, so bytes that were already there are read on the pool thread that accepted it, and that
/// thread goes on reading for as long as each next request is there before it asks. The first read
/// that waits brings the connection to its event thread for good.</para>
/// <para><b>How many event threads:</b> one per core (<c>DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT</c>,
/// unless it is set already), set before the first socket exists; .NET's default is one below 45
/// cores, which would put every request on one core.</para>
/// <para>The per-socket switch is internal and experimental in .NET, reached by reflection; where a
/// runtime does not have it, connections are handled as by default, <see cref="Supported"/> says
/// so, and the worker logs it at start. A test fails when this runtime loses it.</para>
/// </summary>
public static class InlineConnections
{
    public const string EventThreadsVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    private static readonly PropertyInfo? PreferInlineCompletions = typeof(Socket).GetProperty(
        "PreferInlineCompletions", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    /// <summary>Whether this runtime lets a socket's completions run on its event thread.</summary>
    public static bool Supported => PreferInlineCompletions is { CanWrite: true } property && property.PropertyType == typeof(bool);

    /// <summary>
    /// Makes Kestrel handle each connection's requests on its socket's event thread, when
    /// <paramref name="enabled"/> and <see cref="Supported"/>; returns whether it will. Call before
    /// anything in the process opens a socket: the event threads are created with the first one.
    /// </summary>
    public static bool Use(IWebHostBuilder webHost, bool enabled)
    {
        if (!enabled || !Supported)
        {
            return false;
        }

        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(EventThreadsVariable)))
        {
            Environment.SetEnvironmentVariable(EventThreadsVariable, Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        // Kestrel's pipes resume the application on the thread that completed the read, which is now the event thread.
        webHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        webHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Use(next => connection =>
        {
            if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
            {
                Prefer(socket);
            }

            return next(connection);
        })));
        return true;
    }

    /// <summary>Runs the socket's completions on its event thread from its next event on.</summary>
    public static void Prefer(Socket socket) => PreferInlineCompletions?.SetValue(socket, true);
}
