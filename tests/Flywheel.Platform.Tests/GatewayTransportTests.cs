using System.Net;
using System.Net.Sockets;
using Flywheel.Contracts;
using Flywheel.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
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
        using var services = GatewayServices("InlineScheduling", setting);

        Assert.Equal(inline, services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
        Assert.Equal(inline, services.GetRequiredService<IOptions<GatewayOptions>>().Value.InlineScheduling);
    }

    [Theory]
    [InlineData("/run/flywheel/sockets", true)]
    [InlineData(null, false)]
    public void Shadow_copies_connect_as_the_forwarder_does_through_the_local_socket_folder_when_there_is_one(string? folder, bool throughSockets)
    {
        using var services = GatewayServices("LocalSocketDirectory", folder);

        Assert.Equal(throughSockets, services.GetRequiredService<LocalSocketConnector>().Enabled);
        HttpMessageHandler handler = services.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(Flywheel.Gateway.Traffic.ShadowMirror.ClientName);
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler!;
        }

        var primary = Assert.IsType<SocketsHttpHandler>(handler);
        Assert.Equal(throughSockets, primary.ConnectCallback is not null);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("false", false)]
    public async Task Predictions_take_the_direct_path_by_default_and_the_setting_leaves_them_to_yarp(string? setting, bool direct)
    {
        // YARP's state pulls in service discovery, which only disposes asynchronously.
        await using var services = GatewayServices("DirectForwarding", setting);

        Assert.Equal(direct, services.GetRequiredService<Flywheel.Gateway.Proxy.DirectForwarder>().Enabled);
    }

    [Theory]
    [InlineData(null, null, true)]
    [InlineData("false", null, false)]
    [InlineData(null, "false", false)]
    public async Task Predictions_are_read_off_the_connection_by_default_and_either_setting_leaves_them_to_the_pipeline(string? fastPath, string? direct, bool enabled)
    {
        await using var services = GatewayServices(new() { ["FastPath"] = fastPath, ["DirectForwarding"] = direct });

        Assert.Equal(enabled, services.GetRequiredService<Flywheel.Gateway.Proxy.DataPlaneConnections>().Enabled);
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("0", null, false)]
    [InlineData("256", null, true)]
    [InlineData("256", "false", false)]
    public async Task The_fast_paths_front_accepts_the_gateways_tcp_endpoints_when_given_threads_and_leaves_unix_sockets_to_kestrel(string? threads, string? fastPath, bool front)
    {
        await using var services = GatewayServices(new() { ["FastPathThreads"] = threads, ["FastPath"] = fastPath });

        // Kestrel asks the transports registered last first.
        var transport = services.GetRequiredService<IEnumerable<IConnectionListenerFactory>>().Last();
        var selector = Assert.IsAssignableFrom<IConnectionListenerFactorySelector>(transport);
        Assert.IsType<Flywheel.Gateway.Proxy.DataPlaneFront>(transport);
        Assert.Equal(front, selector.CanBind(new IPEndPoint(IPAddress.Loopback, 8080)));
        Assert.Equal(front, selector.CanBind(new IPEndPoint(IPAddress.IPv6Any, 8080)));
        Assert.False(selector.CanBind(new UnixDomainSocketEndPoint("/tmp/gateway.sock")));
    }

    [Theory]
    [InlineData("urls", "http://localhost:8080;https://localhost:8443")]
    [InlineData("ASPNETCORE_URLS", "https://+:443")]
    [InlineData("https_ports", "8443")]
    [InlineData("Kestrel:Endpoints:Secure:Url", "https://0.0.0.0:8443")]
    [InlineData("Kestrel:Endpoints:Secure:Certificate:Path", "/certs/gateway.pfx")]
    public async Task With_an_https_endpoint_configured_the_fast_path_and_its_front_are_off(string key, string value)
    {
        await using var services = GatewayServices(new Dictionary<string, string?> { ["FastPathThreads"] = "256" }, new() { [key] = value });

        Assert.False(services.GetRequiredService<Flywheel.Gateway.Proxy.DataPlaneConnections>().Enabled);
        Assert.False(services.GetRequiredService<Flywheel.Gateway.Proxy.DataPlaneFront>().CanBind(new IPEndPoint(IPAddress.Loopback, 8080)));
    }

    [Theory]
    [InlineData("urls", "http://localhost:8080")]
    [InlineData("http_ports", "8080")]
    [InlineData("Kestrel:Endpoints:Plain:Url", "http://0.0.0.0:8080")]
    public async Task Plain_http_endpoints_keep_the_fast_path(string key, string value)
    {
        await using var services = GatewayServices([], new() { [key] = value });

        Assert.True(services.GetRequiredService<Flywheel.Gateway.Proxy.DataPlaneConnections>().Enabled);
    }

    [Theory]
    [InlineData("FastPathThreads", "-1", "FastPathThreads must be between 0 (off) and 4096.")]
    [InlineData("FastPathThreads", "4097", "FastPathThreads must be between 0 (off) and 4096.")]
    [InlineData("FastPathThreadIdleTimeout", "00:00:00.050", "FastPathThreadIdleTimeout must be between 100 ms and 2 minutes.")]
    [InlineData("FastPathThreadIdleTimeout", "00:02:01", "FastPathThreadIdleTimeout must be between 100 ms and 2 minutes.")]
    public void Front_limits_out_of_range_are_refused(string setting, string value, string error)
    {
        using var services = GatewayServices(setting, value);

        var refused = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<GatewayOptions>>().Value);
        Assert.Contains("Flywheel:Gateway is invalid", refused.Message, StringComparison.Ordinal);
        var options = setting == "FastPathThreads"
            ? new GatewayOptions { FastPathThreads = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) }
            : new GatewayOptions { FastPathThreadIdleTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) };
        Assert.Equal([error], options.Validate());
    }

    [Theory]
    [InlineData("00:00:00.500")]
    [InlineData("00:02:01")]
    public void An_idle_limit_for_direct_connections_outside_one_second_to_two_minutes_is_refused(string limit)
    {
        using var services = GatewayServices("DirectConnectionIdleTimeout", limit);

        var refused = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<GatewayOptions>>().Value);
        Assert.Contains("Flywheel:Gateway is invalid", refused.Message, StringComparison.Ordinal);
        Assert.Contains(new GatewayOptions { DirectConnectionIdleTimeout = TimeSpan.Parse(limit, System.Globalization.CultureInfo.InvariantCulture) }.Validate(),
            error => error.StartsWith("DirectConnectionIdleTimeout must be between 1 s and 2 minutes", StringComparison.Ordinal));
    }

    /// <summary>The gateway's services as its host registers them, with one gateway setting given (or left unset).</summary>
    private static ServiceProvider GatewayServices(string setting, string? value) => GatewayServices(new() { [setting] = value });

    /// <summary>The gateway's services as its host registers them, with the gateway settings given (a null value left unset).</summary>
    private static ServiceProvider GatewayServices(Dictionary<string, string?> settings, Dictionary<string, string?>? configuration = null)
    {
        var builder = WebApplication.CreateBuilder();
        foreach (var (key, value) in configuration ?? [])
        {
            builder.Configuration[key] = value;
        }

        // Registration only: nothing here connects to them.
        builder.Configuration[$"ConnectionStrings:{ResourceNames.Database}"] = "Host=127.0.0.1;Port=1;Username=flywheel;Password=unused";
        builder.Configuration[$"ConnectionStrings:{ResourceNames.OnlineStore}"] = "127.0.0.1:1,password=unused";
        foreach (var (setting, value) in settings.Where(setting => setting.Value is not null))
        {
            builder.Configuration[$"{GatewayOptions.Section}:{setting}"] = value;
        }

        builder.AddServiceDefaults();
        builder.AddGatewayServices();
        return builder.Services.BuildServiceProvider();
    }
}
