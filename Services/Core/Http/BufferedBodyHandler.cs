namespace Flywheel.Core.Http;

/// <summary>
/// Sends a request body that is already in memory in the same write as the request's headers.
/// YARP streams a proxied body and flushes the headers first (right for streaming and gRPC), so a
/// small prediction request reached the worker as two TCP segments, and the worker woke once for
/// the headers and again for the body. The gateway buffers data-plane bodies anyway (to read the
/// sticky key and to resend on a retry), so it names the buffer with <see cref="Body"/> and this
/// handler, beneath YARP in the forwarder's client, sends it as one in-memory content. Requests
/// without the option pass through untouched.
/// </summary>
public sealed class BufferedBodyHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    public static readonly HttpRequestOptionsKey<ReadOnlyMemory<byte>> Body = new("flywheel.buffered-body");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Options.TryGetValue(Body, out var body) && request.Content is { } streamed)
        {
            var content = new ReadOnlyMemoryContent(body);
            foreach (var (name, values) in streamed.Headers.NonValidated)
            {
                // The in-memory content states its own length.
                if (!string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    content.Headers.TryAddWithoutValidation(name, values);
                }
            }

            // The streamed content is left as it is, never started: YARP only waits for a body copy that began.
            request.Content = content;
        }

        return base.SendAsync(request, cancellationToken);
    }
}
