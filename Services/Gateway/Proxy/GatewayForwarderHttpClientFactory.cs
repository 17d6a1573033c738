using Flywheel.Core.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Flywheel.Gateway.Proxy;

/// <summary>YARP's own clients to the services, with <see cref="BufferedBodyHandler"/> beneath the forwarder.</summary>
internal sealed class GatewayForwarderHttpClientFactory(ILogger<ForwarderHttpClientFactory> logger) : ForwarderHttpClientFactory(logger)
{
    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new BufferedBodyHandler(handler);
}
