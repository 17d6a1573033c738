using Flywheel.Core.Http;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Flywheel.Gateway.Proxy;

/// <summary>
/// YARP's own clients to the services, with <see cref="BufferedBodyHandler"/> beneath the
/// forwarder, connecting through a service's local socket when it runs on this host and offers one
/// (<see cref="GatewayOptions.LocalSocketDirectory"/>).
/// </summary>
internal sealed class GatewayForwarderHttpClientFactory(
    IOptions<GatewayOptions> options, ILogger<ForwarderHttpClientFactory> logger, ILogger<LocalSocketConnector> connectorLogger)
    : ForwarderHttpClientFactory(logger)
{
    private readonly LocalSocketConnector? _connector = string.IsNullOrWhiteSpace(options.Value.LocalSocketDirectory)
        ? null
        : new LocalSocketConnector(options.Value.LocalSocketDirectory, connectorLogger);

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        if (_connector is not null)
        {
            handler.ConnectCallback = _connector.ConnectAsync;
        }
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new BufferedBodyHandler(handler);
}
