using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Flywheel.Inference.Serving;

/// <summary>
/// A 200 JSON answer written whole, with its <c>Content-Length</c>. ASP.NET Core's JSON results
/// stream into the response without a length, so a prediction went out chunked: its body and the
/// closing empty chunk as two flushes in the worker, and two writes to the caller in the gateway.
/// Writing it once was 5–10 µs less of the worker's CPU per request (docs/benchmarks.md, seventh
/// session). An answer is a few hundred bytes: it is serialized first into a buffer kept per
/// thread, then copied into the response once.
/// </summary>
public sealed class SizedJson<TValue>(TValue value) : IResult, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<TValue>, IContentTypeHttpResult
{
    public TValue Value { get; } = value;

    object? IValueHttpResult.Value => Value;

    public int StatusCode => StatusCodes.Status200OK;

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public string ContentType => SizedJsonBuffer.ContentType;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var options = httpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var typeInfo = (JsonTypeInfo<TValue>)options.GetTypeInfo(typeof(TValue));
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        response.ContentType = ContentType;
        SizedJsonBuffer.Write(response, Value, typeInfo);
        return response.BodyWriter.FlushAsync().AsTask();
    }
}

/// <summary>The per-thread buffer that <see cref="SizedJson{TValue}"/> serializes into.</summary>
internal static class SizedJsonBuffer
{
    public const string ContentType = "application/json; charset=utf-8";

    /// <summary>A buffer that grew past this for a large batch is not kept for the next answer.</summary>
    private const int KeptCapacity = 64 * 1024;

    [ThreadStatic]
    private static MemoryStream? t_buffer;

    /// <summary>
    /// Serializes <paramref name="value"/>, sets the response's length and copies the bytes into the
    /// response's pipe, all without yielding, so no other answer on this thread can share the buffer.
    /// </summary>
    public static void Write<TValue>(HttpResponse response, TValue value, JsonTypeInfo<TValue> typeInfo)
    {
        var buffer = t_buffer ??= new MemoryStream(1024);
        try
        {
            JsonSerializer.Serialize(buffer, value, typeInfo);
            var written = new ReadOnlySpan<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
            response.ContentLength = written.Length;
            response.BodyWriter.Write(written);
        }
        finally
        {
            if (buffer.Capacity > KeptCapacity)
            {
                t_buffer = null;
            }
            else
            {
                buffer.Position = 0;
                buffer.SetLength(0);
            }
        }
    }
}
