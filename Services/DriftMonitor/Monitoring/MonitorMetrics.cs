using System.Diagnostics;
using System.Diagnostics.Metrics;
using Flywheel.DriftMonitor.Reports;

namespace Flywheel.DriftMonitor.Monitoring;

/// <summary>The monitor's meter (<c>Flywheel.DriftMonitor</c>), exported with the other Flywheel.* meters.</summary>
public sealed class MonitorMetrics
{
    public const string MeterName = "Flywheel.DriftMonitor";

    private readonly Counter<long> _evaluations;
    private readonly Counter<long> _drifted;
    private readonly Counter<long> _skipped;
    private readonly Counter<long> _events;
    private readonly Histogram<double> _duration;

    public MonitorMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _evaluations = meter.CreateCounter<long>("flywheel.drift_monitor.evaluations", "{window}", "Windows evaluated, by model and trigger.");
        _drifted = meter.CreateCounter<long>("flywheel.drift_monitor.drifted_windows", "{window}", "Evaluated windows that drifted, by model.");
        _skipped = meter.CreateCounter<long>("flywheel.drift_monitor.skipped_windows", "{window}", "Scheduled windows skipped for holding fewer rows than the policy's minimum.");
        _events = meter.CreateCounter<long>("flywheel.drift_monitor.events", "{event}", "DriftDetected and PerformanceDegraded events published, by model and type.");
        _duration = meter.CreateHistogram<double>("flywheel.drift_monitor.evaluation.duration", "s", "Time to read, evaluate and store one window.");
    }

    public void Evaluated(MonitoringReport report, TimeSpan elapsed)
    {
        var tags = new TagList { { "model", report.Model }, { "trigger", report.Trigger } };
        _evaluations.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
        if (report.Drifted)
        {
            _drifted.Add(1, new TagList { { "model", report.Model } });
        }
    }

    public void Skipped(string model) => _skipped.Add(1, new TagList { { "model", model } });

    public void Published(string model, string type) => _events.Add(1, new TagList { { "model", model }, { "type", type } });
}
