using System.Net;

namespace Flywheel.Azure.Tests;

/// <summary>A small HTTP server on 127.0.0.1 for stand-ins (identity endpoint, telemetry ingestion); each request goes to the handler.</summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public LoopbackServer(string pathPrefix, Func<HttpListenerContext, Task> handle)
    {
        var port = Ports.Free();
        BaseUrl = $"http://127.0.0.1:{port}{pathPrefix}";
        _listener.Prefixes.Add(BaseUrl);
        _listener.Start();
        _serving = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                await handle(context);
                context.Response.Close();
            }
        });
    }

    /// <summary>Ends with '/'.</summary>
    public string BaseUrl { get; }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
    }
}
