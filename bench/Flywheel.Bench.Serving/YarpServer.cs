using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Flywheel.Bench.Serving;

/// <summary>
/// The least a proxy can do in front of the worker: YARP's own forwarder, with its default
/// client settings, passing every <c>/v1</c> and <c>/v2</c> call to the worker, with nothing else —
/// no keys, limits, traffic split, metrics or traces. The gateway's latency above this one is what
/// Flywheel adds to a YARP hop; this one's latency above the worker direct is the hop itself on
/// this machine. Its Kestrel runs each request on the thread that read it, as the gateway's does by
/// default, so the two differ only in what the gateway does.
/// </summary>
public static class YarpServer
{
    public static async Task RunAsync(string destination, int port)
    {
        var app = MlNetServer.CreateApp(port, services => services.AddHttpForwarder(), inlineScheduling: true);
        app.MapForwarder("/v1/{**rest}", destination);
        app.MapForwarder("/v2/{**rest}", destination);
        await app.RunAsync();
    }
}
