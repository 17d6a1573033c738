using Flywheel.Contracts;
using Flywheel.Core.Http;
using Flywheel.Security;
using Flywheel.Gateway.Limits;
using Flywheel.Gateway.Proxy;
using Flywheel.Gateway.Traffic;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace Flywheel.Gateway;

internal static class Extensions
{
    public static void AddGatewayServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.Section)
            .Validate(options => !options.Validate().Any(), "Flywheel:Gateway is invalid")
            .ValidateOnStart();
        // Cluster health settings are fixed when the route table is built.
        var options = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();

        builder.AddDatabase();
        builder.AddOnlineStore();
        builder.AddDeploymentCatalog();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<GatewayMetrics>();

        builder.Services.AddSingleton(new ApiKeyCacheSettings(options.KeyCacheDuration));
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ApiKeyStore>());
        builder.Services.AddSingleton<QuotaCounter>();
        builder.Services.AddHostedService(services => services.GetRequiredService<QuotaCounter>());
        builder.Services.AddSingleton<KeyLimits>();
        builder.Services.AddSingleton<AnonymousLimits>();
        // Predictions and their shadows reach a worker on this host through its local socket.
        builder.Services.AddSingleton(services => new LocalSocketConnector(
            services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.LocalSocketDirectory,
            services.GetRequiredService<ILogger<LocalSocketConnector>>()));
        builder.Services.AddSingleton<DirectForwarder>();
        builder.Services.AddSingleton<IDataPlaneAdmission, DataPlaneAdmission>();
        builder.Services.AddSingleton<DataPlaneConnections>();
        // Every endpoint's connections pass the fast path first; it hands the rest to Kestrel's HTTP handler.
        builder.Services.Configure<KestrelServerOptions>(DataPlaneConnections.InFrontOfEveryEndpoint);
        // In front of those, the TCP endpoints' connections are accepted by the fast path's own front,
        // which serves them on threads of their own while their requests are the fast path's.
        DataPlaneFront.Register(builder.Services);
        builder.Services.AddSingleton<ShadowMirror>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ShadowMirror>());
        // Shadows go straight to inference once: a retried shadow would be a second logged prediction.
        // RemoveAllResilienceHandlers is marked experimental; it is the only way to opt one client out
        // of the defaults ServiceDefaults adds to every client.
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient(ShadowMirror.ClientName, client =>
            {
                client.BaseAddress = new Uri($"https+http://{ResourceNames.Inference}");
                client.Timeout = GatewayRoutes.InferenceTimeout;
            })
            .ConfigurePrimaryHttpMessageHandler(services => services.GetRequiredService<LocalSocketConnector>().CreateHandler())
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

        builder.Services.Configure<SocketTransportOptions>(sockets => sockets.UnsafePreferInlineScheduling = options.InlineScheduling);
        builder.Services.AddRequestTimeouts();
        builder.Services.AddSingleton<IForwarderHttpClientFactory, GatewayForwarderHttpClientFactory>();
        builder.Services.AddReverseProxy()
            .LoadFromMemory(GatewayRoutes.Routes, GatewayRoutes.Clusters(options))
            .AddServiceDiscoveryDestinationResolver()
            // A body the admission middleware buffered goes out in one write with the headers.
            .AddTransforms(transforms => transforms.AddRequestTransform(transform =>
            {
                if (transform.HttpContext.Features.Get<BufferedRequestBody>() is { } body)
                {
                    transform.ProxyRequest.Options.Set(BufferedBodyHandler.Body, body.Bytes.AsMemory());
                }

                return ValueTask.CompletedTask;
            }));
    }

    /// <summary>Keys, limits, body size, traffic split and shadows, before anything is proxied.</summary>
    public static IApplicationBuilder UseGatewayAdmission(this IApplicationBuilder app) => app.UseMiddleware<AdmissionMiddleware>();

    /// <summary>YARP's standard pipeline with one retry to another inference destination on a connection failure.</summary>
    public static IEndpointConventionBuilder MapGatewayProxy(this IEndpointRouteBuilder app) =>
        app.MapReverseProxy(proxy =>
        {
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.Use(RetryOnConnectionFailure.InvokeAsync);
            proxy.UsePassiveHealthChecks();
        });
}
