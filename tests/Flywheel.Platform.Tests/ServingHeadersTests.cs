using Flywheel.Contracts.Serving;

namespace Flywheel.Platform.Tests;

/// <summary>A key's name travels from the gateway to a worker in a header; any printable name must arrive as it was.</summary>
public sealed class ServingHeadersTests
{
    [Theory]
    [InlineData("bootstrap-admin", "bootstrap-admin")]
    [InlineData("svc_a.v2~x", "svc_a.v2~x")]
    [InlineData("alice smith", "alice%20smith")]
    [InlineData("100%", "100%25")]
    [InlineData("prédicteur 🙂", "pr%C3%A9dicteur%20%F0%9F%99%82")]
    [InlineData("a:b,c;d\"e", "a%3Ab%2Cc%3Bd%22e")]
    public void A_caller_name_is_written_as_visible_ascii_and_read_back_unchanged(string name, string header)
    {
        var written = ServingHeaders.EncodeCaller(name);

        Assert.Equal(header, written);
        Assert.All(written, c => Assert.InRange(c, '!', '~'));
        Assert.Equal(name, ServingHeaders.DecodeCaller(written));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void No_caller_header_is_no_caller(string? header) => Assert.Null(ServingHeaders.DecodeCaller(header));
}
