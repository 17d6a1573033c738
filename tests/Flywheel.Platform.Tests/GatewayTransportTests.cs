using Flywheel.Contracts;
using Flywheel.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Flywheel.Platform.Tests;

/// <summary>
/// The gateway's Kestrel transport as its host resolves it: a request runs on the thread that
/// read it unless <c>Flywheel:Gateway:InlineScheduling</c> says otherwise.
/// </summary>
public sealed class GatewayTransportTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public void Requests_run_on_the_reading_thread_by_default_and_the_setting_turns_it_off(string? setting, bool inline)
    {
        var builder = WebApplication.CreateBuilder();
        // Registration only: nothing here connects to them.
        builder.Configuration[$"ConnectionStrings:{ResourceNames.Database}"] = "Host=127.0.0.1;Port=1;Username=flywheel;Password=unused";
        builder.Configuration[$"ConnectionStrings:{ResourceNames.OnlineStore}"] = "127.0.0.1:1,password=unused";
        if (setting is not null)
        {
            builder.Configuration[$"{GatewayOptions.Section}:InlineScheduling"] = setting;
        }

        builder.AddGatewayServices();
        using var services = builder.Services.BuildServiceProvider();

        Assert.Equal(inline, services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
        Assert.Equal(inline, services.GetRequiredService<IOptions<GatewayOptions>>().Value.InlineScheduling);
    }

    [Theory]
    [InlineData("/run/flywheel/sockets", true)]
    [InlineData(null, false)]
    public void Shadow_copies_connect_as_the_forwarder_does_through_the_local_socket_folder_when_there_is_one(string? folder, bool throughSockets)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration[$"ConnectionStrings:{ResourceNames.Database}"] = "Host=127.0.0.1;Port=1;Username=flywheel;Password=unused";
        builder.Configuration[$"ConnectionStrings:{ResourceNames.OnlineStore}"] = "127.0.0.1:1,password=unused";
        if (folder is not null)
        {
            builder.Configuration[$"{GatewayOptions.Section}:LocalSocketDirectory"] = folder;
        }

        builder.AddServiceDefaults();
        builder.AddGatewayServices();
        using var services = builder.Services.BuildServiceProvider();

        Assert.Equal(throughSockets, services.GetRequiredService<LocalSocketConnector>().Enabled);
        HttpMessageHandler handler = services.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(Flywheel.Gateway.Traffic.ShadowMirror.ClientName);
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler!;
        }

        var primary = Assert.IsType<SocketsHttpHandler>(handler);
        Assert.Equal(throughSockets, primary.ConnectCallback is not null);
    }
}
