using System.Net.Http.Headers;
using System.Threading.Channels;
using Flywheel.Contracts.Serving;
using Microsoft.Extensions.Options;

namespace Flywheel.Gateway.Traffic;

/// <summary>A copy of an answered request, for the shadow version.</summary>
/// <param name="Key">The key the caller presented: the worker checks the shadow's caller as it checks every call.</param>
public sealed record ShadowRequest(string PathAndQuery, byte[] Body, string? ContentType, string Model, int Version, string Key);

/// <summary>
/// Sends copies of answered requests to a deployment's shadow version, marked
/// <c>X-Flywheel-Shadow: true</c> so the worker logs them as shadow; the responses are thrown
/// away. Copies are queued only after the primary response has completed, so mirroring never
/// delays or changes it. The queue is bounded and a few workers drain it: when shadows back up,
/// new copies are dropped (and counted) rather than piling up in memory.
/// </summary>
public sealed partial class ShadowMirror(
    IHttpClientFactory clients, GatewayMetrics metrics, IOptions<GatewayOptions> options, ILogger<ShadowMirror> logger) : BackgroundService
{
    public const string ClientName = "shadow";

    private readonly Channel<ShadowRequest> _queue = Channel.CreateBounded<ShadowRequest>(new BoundedChannelOptions(options.Value.ShadowQueueCapacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = false,
        SingleWriter = false,
    });

    public bool TryEnqueue(ShadowRequest request)
    {
        if (_queue.Writer.TryWrite(request))
        {
            return true;
        }

        metrics.ShadowDropped(request.Model);
        return false;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.ShadowConcurrency).Select(_ => DrainAsync(stoppingToken)));

    private async Task DrainAsync(CancellationToken stoppingToken)
    {
        var client = clients.CreateClient(ClientName);
        try
        {
            await foreach (var request in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                await SendAsync(client, request, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(HttpClient client, ShadowRequest request, CancellationToken stoppingToken)
    {
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, request.PathAndQuery) { Content = new ByteArrayContent(request.Body) };
            if (request.ContentType is not null && MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType))
            {
                message.Content.Headers.ContentType = contentType;
            }

            message.Headers.Add(ServingHeaders.Traffic, TrafficRoles.Shadow);
            message.Headers.Add(ServingHeaders.Shadow, "true");
            message.Headers.TryAddWithoutValidation("X-Api-Key", request.Key);
            using var response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, stoppingToken);
            metrics.ShadowSent(request.Model, request.Version, response.IsSuccessStatusCode ? "ok" : "error");
            if (!response.IsSuccessStatusCode)
            {
                LogShadowRefused(request.Model, request.Version, (int)response.StatusCode);
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
        {
            metrics.ShadowSent(request.Model, request.Version, "failed");
            LogShadowFailed(exception, request.Model, request.Version);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Shadow request for {Model} version {Version} answered {Status}")]
    private partial void LogShadowRefused(string model, int version, int status);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Shadow request for {Model} version {Version} failed")]
    private partial void LogShadowFailed(Exception exception, string model, int version);
}
