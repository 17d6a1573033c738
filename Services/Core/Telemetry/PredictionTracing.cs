using System.Globalization;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Telemetry;

/// <summary>
/// Which prediction requests get a trace. Every prediction is already in the prediction log (and
/// counted in the metrics), so a span for each one adds little but volume for the exporter, at
/// thousands of predictions a second. Predict and infer calls (<c>POST /v1/models/{model}:predict</c>,
/// <c>POST /v2/models/{model}[/versions/{version}]/infer</c>) are therefore traced at a ratio, unless
/// the caller's own trace was sampled (the gateway's, say), so a trace is never cut in half; every
/// other request (the control plane, feedback, metadata) is traced as before.
/// </summary>
public static class PredictionTracing
{
    /// <summary>Configuration key of the share of prediction requests that are traced, 0 to 1.</summary>
    public const string RatioKey = "Flywheel:Telemetry:PredictionTraceRatio";

    public const double DefaultRatio = 0.05;

    /// <summary>The configured ratio (<see cref="DefaultRatio"/> when unset); a value outside 0 to 1 is refused with the key named.</summary>
    public static double ParseRatio(string? configured)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            return DefaultRatio;
        }

        if (!double.TryParse(configured, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) || double.IsNaN(ratio) || ratio is < 0 or > 1)
        {
            throw new InvalidOperationException($"{RatioKey} is '{configured}'; it must be a number from 0 (no prediction is traced) to 1 (every one is).");
        }

        return ratio;
    }

    /// <summary>Whether the request is a predict or infer call.</summary>
    public static bool IsPrediction(string method, string? path) =>
        string.Equals(method, "POST", StringComparison.OrdinalIgnoreCase) &&
        path is not null &&
        (path.StartsWith("/v1/models/", StringComparison.Ordinal) || path.StartsWith("/v2/models/", StringComparison.Ordinal)) &&
        ServingPath.Parse(path).Call is ServingCall.Predict or ServingCall.Infer or ServingCall.InferVersion;

    /// <summary>
    /// Whether a request's trace is kept: always for anything but a prediction, and for a
    /// prediction whose caller sampled its trace; otherwise when <paramref name="draw"/> (uniform in
    /// [0, 1)) falls under the ratio.
    /// </summary>
    public static bool Keep(bool isPrediction, bool callerSampled, double ratio, double draw) =>
        !isPrediction || callerSampled || draw < ratio;
}
