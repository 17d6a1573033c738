using System.Diagnostics;
using System.Diagnostics.Metrics;
using Flywheel.Inference.Models;

namespace Flywheel.Inference;

/// <summary>The worker's meter (<c>Flywheel.Inference</c>), exported with the other Flywheel.* meters.</summary>
public sealed class InferenceMetrics
{
    public const string MeterName = "Flywheel.Inference";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _errors;
    private readonly Histogram<double> _latency;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _queueTime;
    private readonly Counter<long> _cacheHits;
    private readonly Counter<long> _cacheMisses;

    public InferenceMetrics(IMeterFactory meters, ServedModels served)
    {
        var meter = meters.Create(MeterName);
        _requests = meter.CreateCounter<long>("flywheel.inference.requests", "{request}", "Prediction requests by model, version and protocol.");
        _errors = meter.CreateCounter<long>("flywheel.inference.errors", "{request}", "Prediction requests answered with an error, by status.");
        _latency = meter.CreateHistogram<double>("flywheel.inference.latency", "ms", "Time to answer a prediction request.");
        _batchSize = meter.CreateHistogram<int>("flywheel.inference.batch_size", "{row}", "Rows per ONNX Runtime call.");
        _queueTime = meter.CreateHistogram<double>("flywheel.inference.queue_time", "ms", "Time a request waited for its batch to run.");
        _cacheHits = meter.CreateCounter<long>("flywheel.inference.cache.hits", "{row}", "Rows answered from the prediction cache.");
        _cacheMisses = meter.CreateCounter<long>("flywheel.inference.cache.misses", "{row}", "Rows the prediction cache did not hold.");
        meter.CreateObservableGauge("flywheel.inference.sessions", () => served.LoadedSessions, "{session}", "ONNX Runtime sessions loaded.");
    }

    public void Request(string model, int? version, string protocol, TimeSpan elapsed, int status)
    {
        var tags = new TagList { { "model", model }, { "version", version }, { "protocol", protocol } };
        _requests.Add(1, tags);
        _latency.Record(elapsed.TotalMilliseconds, tags);
        if (status >= 400)
        {
            tags.Add("status", status);
            _errors.Add(1, tags);
        }
    }

    public void BatchSize(LoadedVersion version, int rows) =>
        _batchSize.Record(rows, new TagList { { "model", version.Model }, { "version", version.Version } });

    public void QueueTime(LoadedVersion version, TimeSpan waited) =>
        _queueTime.Record(waited.TotalMilliseconds, new TagList { { "model", version.Model }, { "version", version.Version } });

    public void Cache(string model, int version, int hits, int misses)
    {
        var tags = new TagList { { "model", model }, { "version", version } };
        _cacheHits.Add(hits, tags);
        _cacheMisses.Add(misses, tags);
    }
}
