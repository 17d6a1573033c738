using Flywheel.Core.Artifacts;

namespace Flywheel.Core.Tests.Artifacts;

public sealed class ArtifactLocationTests
{
    private const string Sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    private static readonly Uri Azurite = new("http://127.0.0.1:41234/devstoreaccount1/models");
    private static readonly Uri Azure = new("https://flywheel.blob.core.windows.net/models");

    [Fact]
    public void A_uri_under_the_container_at_the_current_endpoint_names_its_blob()
    {
        Assert.Equal($"card-fraud/{Sha}.onnx", ArtifactLocation.BlobName(Azurite, $"http://127.0.0.1:41234/devstoreaccount1/models/card-fraud/{Sha}.onnx"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:33983/devstoreaccount1/models/card-fraud/{0}.onnx")]
    [InlineData("http://localhost:10000/devstoreaccount1/models/card-fraud/{0}.onnx")]
    [InlineData("https://127.0.0.1:41234/devstoreaccount1/models/card-fraud/{0}.onnx")]
    public void A_uri_recorded_under_another_port_host_or_scheme_still_names_the_same_blob(string recorded)
    {
        Assert.Equal($"card-fraud/{Sha}.onnx", ArtifactLocation.BlobName(Azurite, string.Format(recorded, Sha)));
    }

    [Fact]
    public void An_account_style_endpoint_is_matched_by_its_own_container_path()
    {
        Assert.Equal("m/a.onnx", ArtifactLocation.BlobName(Azure, "https://other-host.example/models/m/a.onnx"));
        Assert.Null(ArtifactLocation.BlobName(Azure, "https://flywheel.blob.core.windows.net/devstoreaccount1/models/m/a.onnx"));
    }

    [Fact]
    public void A_trailing_slash_on_the_container_makes_no_difference()
    {
        Assert.Equal("m/a.onnx", ArtifactLocation.BlobName(new Uri("http://h/devstoreaccount1/models/"), "http://h/devstoreaccount1/models/m/a.onnx"));
    }

    [Fact]
    public void Escaped_characters_in_the_name_are_unescaped()
    {
        Assert.Equal("my model/a.onnx", ArtifactLocation.BlobName(Azurite, "http://h/devstoreaccount1/models/my%20model/a.onnx"));
    }

    [Theory]
    [InlineData("http://h/devstoreaccount1/models/card-fraud/%2E%2E/x.onnx", "x.onnx")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud/%2e/x.onnx", "card-fraud/x.onnx")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud/../other/x.onnx", "other/x.onnx")]
    public void Dot_segments_that_stay_inside_the_container_are_folded_as_a_browser_would(string uri, string name)
    {
        Assert.Equal(name, ArtifactLocation.BlobName(Azurite, uri));
    }

    [Theory]
    [InlineData("http://127.0.0.1:41234/devstoreaccount1/data/card-fraud/a.onnx")]
    [InlineData("http://127.0.0.1:41234/devstoreaccount1/modelsx/a.onnx")]
    [InlineData("http://127.0.0.1:41234/otheraccount/models/a.onnx")]
    [InlineData("http://127.0.0.1:41234/devstoreaccount1/Models/a.onnx")]
    [InlineData("http://127.0.0.1:41234/devstoreaccount1/models")]
    [InlineData("http://127.0.0.1:41234/devstoreaccount1/models/")]
    public void A_uri_outside_the_container_or_without_a_blob_name_names_nothing(string uri)
    {
        Assert.Null(ArtifactLocation.BlobName(Azurite, uri));
    }

    [Theory]
    [InlineData("http://h/devstoreaccount1/models/../data/secret.csv")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud/../../data/secret.csv")]
    [InlineData("http://h/devstoreaccount1/models/%2e%2e/data/secret.csv")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud//x.onnx")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud%2F..%2F..%2Fdata/x")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud%5C..%5Cx.onnx")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud/x%00.onnx")]
    public void A_traversal_or_malformed_segment_names_nothing(string uri)
    {
        Assert.Null(ArtifactLocation.BlobName(Azurite, uri));
    }

    [Theory]
    [InlineData("")]
    [InlineData("card-fraud/a.onnx")]
    [InlineData("/devstoreaccount1/models/card-fraud/a.onnx")]
    [InlineData("file:///devstoreaccount1/models/card-fraud/a.onnx")]
    [InlineData("ftp://h/devstoreaccount1/models/card-fraud/a.onnx")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud/a.onnx?sv=2024&sig=abc")]
    [InlineData("http://h/devstoreaccount1/models/card-fraud/a.onnx#frag")]
    public void Anything_but_a_plain_http_uri_names_nothing(string uri)
    {
        Assert.Null(ArtifactLocation.BlobName(Azurite, uri));
    }

    [Fact]
    public void A_name_longer_than_blob_storage_accepts_names_nothing()
    {
        var longest = new string('a', ArtifactLocation.MaxNameLength);
        Assert.Equal(longest, ArtifactLocation.BlobName(Azurite, $"http://h/devstoreaccount1/models/{longest}"));
        Assert.Null(ArtifactLocation.BlobName(Azurite, $"http://h/devstoreaccount1/models/{longest}a"));
    }
}
