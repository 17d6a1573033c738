using System.Net;
using System.Text;
using Flywheel.Core.Http;

namespace Flywheel.Core.Tests.Http;

public sealed class BufferedBodyHandlerTests
{
    [Fact]
    public async Task A_named_buffer_replaces_the_streamed_body_with_its_headers_and_exact_length()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"instances":[{"amount":12.5}]}""");
        var inner = new Recording();
        using var invoker = new HttpMessageInvoker(new BufferedBodyHandler(inner));
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://inference/v1/models/m:predict")
        {
            Content = new StreamContent(new NeverRead()),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=utf-8");
        request.Content.Headers.ContentLength = bytes.Length;
        request.Options.Set(BufferedBodyHandler.Body, bytes.AsMemory());

        using var response = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.IsType<ReadOnlyMemoryContent>(inner.Content);
        Assert.Equal(bytes, inner.Body);
        Assert.Equal("application/json; charset=utf-8", inner.ContentType);
        Assert.Equal(bytes.Length, inner.ContentLength);
    }

    [Fact]
    public async Task Without_a_named_buffer_the_request_is_sent_as_it_is()
    {
        var inner = new Recording();
        using var invoker = new HttpMessageInvoker(new BufferedBodyHandler(inner));
        var streamed = new StringContent("streamed", Encoding.UTF8, "text/csv");
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://registry/api/models/m/data") { Content = streamed };

        using var response = await invoker.SendAsync(request, CancellationToken.None);

        Assert.Same(streamed, inner.Content);
        Assert.Equal("streamed"u8.ToArray(), inner.Body);
    }

    /// <summary>Reads what the handler passes down, as the socket would.</summary>
    private sealed class Recording : HttpMessageHandler
    {
        public HttpContent? Content { get; private set; }

        public byte[]? Body { get; private set; }

        public string? ContentType { get; private set; }

        public long? ContentLength { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Content = request.Content;
            Body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            ContentType = request.Content.Headers.ContentType?.ToString();
            ContentLength = request.Content.Headers.ContentLength;
            return new HttpResponseMessage(HttpStatusCode.OK);
        }
    }

    /// <summary>The streamed body the proxy would have copied: reading it means the buffer was not used.</summary>
    private sealed class NeverRead : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("The streamed body was read.");
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
