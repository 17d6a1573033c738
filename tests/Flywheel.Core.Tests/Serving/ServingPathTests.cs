using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class ServingPathTests
{
    [Theory]
    [InlineData("/v1/models/fraud:predict", ServingCall.Predict, "fraud")]
    [InlineData("/v1/models/fraud/feedback", ServingCall.Feedback, "fraud")]
    [InlineData("/v2/models/fraud/infer", ServingCall.Infer, "fraud")]
    [InlineData("/v2/models/fraud/versions/3/infer", ServingCall.InferVersion, "fraud")]
    [InlineData("/v1/models/fraud:explain", ServingCall.Other, "fraud")]
    [InlineData("/v2/models/fraud/ready", ServingCall.Other, "fraud")]
    [InlineData("/v1/models/:predict", ServingCall.Other, null)]
    [InlineData("/v2/models//infer", ServingCall.Other, null)]
    [InlineData("/v2/health/ready", ServingCall.Other, null)]
    [InlineData("/v1/models", ServingCall.Other, null)]
    [InlineData("/api/models/fraud", ServingCall.Other, null)]
    [InlineData("/v1/models/fraud:predict/", ServingCall.Predict, "fraud")]
    [InlineData("v1/models/fraud:predict", ServingCall.Predict, "fraud")]
    [InlineData("/v1/models/a:b:predict", ServingCall.Predict, "a:b")]
    [InlineData("/v1/models/fraud:predict:x", ServingCall.Other, "fraud")]
    [InlineData("/v1/models/fraud/feedback/", ServingCall.Feedback, "fraud")]
    [InlineData("/v2/models/fraud/versions//infer", ServingCall.Other, "fraud")]
    [InlineData("/v2/models/fraud/versions/3/infer/extra", ServingCall.Other, "fraud")]
    [InlineData("/v2/models/fraud/versions/3/infer/a/b/c", ServingCall.Other, "fraud")]
    [InlineData("/v2/models/fraud/versions/3", ServingCall.Other, "fraud")]
    [InlineData("/v1//models/fraud:predict", ServingCall.Other, null)]
    [InlineData("/v3/models/fraud:predict", ServingCall.Other, null)]
    [InlineData("/", ServingCall.Other, null)]
    [InlineData("", ServingCall.Other, null)]
    public void Paths_name_their_call_and_model(string path, ServingCall call, string? model) =>
        Assert.Equal(new ServingPath(call, model), ServingPath.Parse(path));

    [Fact]
    public void Only_predict_and_infer_without_a_version_are_split()
    {
        Assert.True(ServingPath.Parse("/v1/models/m:predict").IsSplit);
        Assert.True(ServingPath.Parse("/v2/models/m/infer").IsSplit);
        Assert.False(ServingPath.Parse("/v2/models/m/versions/2/infer").IsSplit);
        Assert.False(ServingPath.Parse("/v1/models/m/feedback").IsSplit);
    }
}
