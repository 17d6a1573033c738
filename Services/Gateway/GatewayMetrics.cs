using System.Diagnostics.Metrics;

namespace Flywheel.Gateway;

/// <summary>The gateway's own instruments (meter <c>Flywheel.Gateway</c>, exported with every <c>Flywheel.*</c> meter).</summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "Flywheel.Gateway";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _limited;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _shadowSent;
    private readonly Counter<long> _shadowDropped;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _forwarded;

    public GatewayMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _requests = meter.CreateCounter<long>("flywheel.gateway.requests", "{request}", "Data-plane requests admitted, by model, version and route.");
        _limited = meter.CreateCounter<long>("flywheel.gateway.rate_limited", "{request}", "Requests refused with 429, by limit (rate or quota).");
        _authFailures = meter.CreateCounter<long>("flywheel.gateway.auth_failures", "{request}", "Data-plane requests refused with 401 or 403, by reason.");
        _shadowSent = meter.CreateCounter<long>("flywheel.gateway.shadow.sent", "{request}", "Mirrored requests sent to a shadow version, by model, version and outcome.");
        _shadowDropped = meter.CreateCounter<long>("flywheel.gateway.shadow.dropped", "{request}", "Mirrored requests dropped because the mirror queue was full.");
        _retries = meter.CreateCounter<long>("flywheel.gateway.retries", "{request}", "Requests retried on another destination after a connection failure.");
        _forwarded = meter.CreateHistogram<double>("flywheel.gateway.forward.duration", "s",
            "Time from sending a data-plane request to an inference worker to the last byte of its answer, on the gateway's direct path, by outcome (ok or failed).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    }

    public void Admitted(string model, string version, string route) =>
        _requests.Add(1, new("model", model), new("version", version), new("route", route));

    public void Limited(string limit) => _limited.Add(1, new KeyValuePair<string, object?>("limit", limit));

    public void AuthFailed(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void ShadowSent(string model, int version, string outcome) =>
        _shadowSent.Add(1, new("model", model), new("version", version), new("outcome", outcome));

    public void ShadowDropped(string model) => _shadowDropped.Add(1, new KeyValuePair<string, object?>("model", model));

    public void Forwarded(TimeSpan elapsed, bool ok) =>
        _forwarded.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", ok ? "ok" : "failed"));

    public void Retried(string cluster) => _retries.Add(1, new KeyValuePair<string, object?>("cluster", cluster));
}
