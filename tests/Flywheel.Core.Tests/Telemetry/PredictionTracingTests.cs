using Flywheel.Core.Telemetry;

namespace Flywheel.Core.Tests.Telemetry;

public sealed class PredictionTracingTests
{
    [Theory]
    [InlineData("POST", "/v1/models/fraud:predict", true)]
    [InlineData("post", "/v1/models/fraud:predict", true)]
    [InlineData("POST", "/v2/models/fraud/infer", true)]
    [InlineData("POST", "/v2/models/fraud/versions/3/infer", true)]
    [InlineData("GET", "/v1/models/fraud:predict", false)]
    [InlineData("POST", "/v1/models/fraud/feedback", false)]
    [InlineData("GET", "/v2/models/fraud/ready", false)]
    [InlineData("GET", "/v2/models/fraud", false)]
    [InlineData("POST", "/v1/models/:predict", false)]
    [InlineData("POST", "/api/models/fraud/versions", false)]
    [InlineData("POST", "/api/models/fraud:predict", false)]
    [InlineData("POST", "/", false)]
    [InlineData("POST", null, false)]
    public void Only_predict_and_infer_calls_are_predictions(string method, string? path, bool expected) =>
        Assert.Equal(expected, PredictionTracing.IsPrediction(method, path));

    [Fact]
    public void Anything_but_a_prediction_is_always_traced()
    {
        Assert.True(PredictionTracing.Keep(isPrediction: false, callerSampled: false, ratio: 0, draw: 0.999));
        Assert.True(PredictionTracing.Keep(isPrediction: false, callerSampled: false, ratio: 0.05, draw: 0.5));
    }

    [Fact]
    public void A_prediction_whose_caller_sampled_its_trace_is_traced_whatever_the_ratio()
    {
        Assert.True(PredictionTracing.Keep(isPrediction: true, callerSampled: true, ratio: 0, draw: 0.999));
    }

    [Theory]
    [InlineData(0.05, 0.0, true)]
    [InlineData(0.05, 0.049, true)]
    [InlineData(0.05, 0.05, false)]
    [InlineData(0.05, 0.7, false)]
    [InlineData(0.0, 0.0, false)]
    [InlineData(1.0, 0.999999, true)]
    public void Other_predictions_are_traced_when_the_draw_falls_under_the_ratio(double ratio, double draw, bool expected) =>
        Assert.Equal(expected, PredictionTracing.Keep(isPrediction: true, callerSampled: false, ratio, draw));

    [Fact]
    public void Over_many_draws_the_share_traced_is_the_ratio()
    {
        var random = new Random(11);
        var kept = Enumerable.Range(0, 100_000).Count(_ => PredictionTracing.Keep(true, false, 0.05, random.NextDouble()));
        // Binomial(100,000, 0.05): standard deviation about 69; 5 of them either side.
        Assert.InRange(kept, 5_000 - 345, 5_000 + 345);
    }

    [Theory]
    [InlineData(null, PredictionTracing.DefaultRatio)]
    [InlineData("", PredictionTracing.DefaultRatio)]
    [InlineData("  ", PredictionTracing.DefaultRatio)]
    [InlineData("0", 0.0)]
    [InlineData("1", 1.0)]
    [InlineData("0.25", 0.25)]
    [InlineData("1e-3", 0.001)]
    public void The_ratio_is_read_from_configuration_or_defaults(string? configured, double expected) =>
        Assert.Equal(expected, PredictionTracing.ParseRatio(configured));

    [Theory]
    [InlineData("-0.1")]
    [InlineData("1.5")]
    [InlineData("NaN")]
    [InlineData("half")]
    [InlineData("0,5")]
    public void A_ratio_outside_zero_to_one_is_refused_with_its_key(string configured)
    {
        var error = Assert.Throws<InvalidOperationException>(() => PredictionTracing.ParseRatio(configured));
        Assert.Contains(PredictionTracing.RatioKey, error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{configured}'", error.Message, StringComparison.Ordinal);
    }
}
