using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Flywheel.Inference.Feedback;

/// <summary>Feedback counts on the worker's meter (<see cref="InferenceMetrics.MeterName"/>), by model.</summary>
public sealed class FeedbackMetrics
{
    public const string AcceptedMetric = "flywheel.inference.feedback.accepted";
    public const string DuplicatesMetric = "flywheel.inference.feedback.duplicates";
    public const string UnmatchedMetric = "flywheel.inference.feedback.unmatched";
    public const string RejectedMetric = "flywheel.inference.feedback.rejected";

    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _unmatched;
    private readonly Counter<long> _rejected;

    public FeedbackMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(InferenceMetrics.MeterName);
        _accepted = meter.CreateCounter<long>(AcceptedMetric, "{label}", "Feedback labels stored, by model.");
        _duplicates = meter.CreateCounter<long>(DuplicatesMetric, "{label}", "Feedback labels not stored because one was already stored for the same prediction.");
        _unmatched = meter.CreateCounter<long>(UnmatchedMetric, "{label}", "Feedback labels stored before their prediction was in the log.");
        _rejected = meter.CreateCounter<long>(RejectedMetric, "{request}", "Feedback requests refused as invalid; none of their labels were stored.");
    }

    public void Stored(string model, FeedbackAccepted result)
    {
        var tags = new TagList { { "model", model } };
        _accepted.Add(result.Accepted, tags);
        _duplicates.Add(result.Duplicates, tags);
        _unmatched.Add(result.Unmatched, tags);
    }

    public void Rejected(string model) => _rejected.Add(1, new TagList { { "model", model } });
}
