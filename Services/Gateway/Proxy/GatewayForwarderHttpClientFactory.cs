using Flywheel.Core.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// YARP's own clients to the services, with <see cref="BufferedBodyHandler"/> beneath the
/// forwarder, connecting through a service's local socket when it runs on this host and offers one
/// (<see cref="GatewayOptions.LocalSocketDirectory"/>).
/// </summary>
internal sealed class GatewayForwarderHttpClientFactory(LocalSocketConnector connector, ILogger<ForwarderHttpClientFactory> logger)
    : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        if (connector.Enabled)
        {
            handler.ConnectCallback = connector.ConnectAsync;
        }
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new BufferedBodyHandler(handler);
}
