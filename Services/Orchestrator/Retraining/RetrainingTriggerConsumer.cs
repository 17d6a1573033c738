using Flywheel.Contracts.Monitoring;
using Flywheel.Contracts.Rollouts;
using Flywheel.Core.Retraining;
using MassTransit;

namespace Flywheel.Orchestrator.Retraining;

/// <summary>The monitor's reports and operators' requests, each decided by <see cref="RetrainingPlanner"/>.</summary>
public sealed class RetrainingTriggerConsumer(RetrainingPlanner planner)
    : IConsumer<DriftDetected>, IConsumer<PerformanceDegraded>, IConsumer<RetrainingRequested>
{
    public const string Monitor = "drift-monitor";

    public Task Consume(ConsumeContext<DriftDetected> context)
    {
        var m = context.Message;
        return planner.DecideAsync(m.ReportId, m.Model, RetrainingTriggers.Drift, Monitor, new
        {
            report_id = m.ReportId, version = m.Version, drifted_share = m.DriftedShare, drifted_features = m.DriftedFeatures,
            prediction_drifted = m.PredictionDrifted, window_from = m.WindowFrom, window_to = m.WindowTo,
        }, context.CancellationToken);
    }

    public Task Consume(ConsumeContext<PerformanceDegraded> context)
    {
        var m = context.Message;
        return planner.DecideAsync(m.ReportId, m.Model, RetrainingTriggers.Performance, Monitor, new
        {
            report_id = m.ReportId, version = m.Version, metric = m.Metric, value = m.Value, ci_low = m.CiLow, ci_high = m.CiHigh,
            training_value = m.TrainingValue, labelled_rows = m.LabelledRows,
        }, context.CancellationToken);
    }

    public Task Consume(ConsumeContext<RetrainingRequested> context)
    {
        var m = context.Message;
        return planner.DecideAsync(m.RequestId, m.Model, RetrainingTriggers.Manual, m.RequestedBy, new { reason = m.Reason }, context.CancellationToken);
    }
}
