using System.ComponentModel.DataAnnotations;

namespace Flywheel.DriftMonitor.Monitoring;

/// <summary>The monitor's platform-wide settings (<c>Flywheel:Monitoring</c>).</summary>
public sealed class MonitoringOptions
{
    public const string Section = "Flywheel:Monitoring";

    /// <summary>
    /// How often the schedule evaluates a model that has no stored policy. A stored policy names
    /// its own interval. Raise it to keep the schedule (and the retraining it may trigger) off
    /// models nobody has set a policy for.
    /// </summary>
    [Range(MonitoringPolicy.MinEvaluationIntervalSeconds, 7 * 24 * 3600)]
    public int DefaultEvaluationIntervalSeconds { get; set; } = MonitoringPolicy.DefaultEvaluationIntervalSeconds;

    /// <summary>The policy of a model without a stored one.</summary>
    public MonitoringPolicy DefaultPolicy => (MonitoringPolicy.Default with { EvaluationIntervalSeconds = DefaultEvaluationIntervalSeconds }).Normalised();
}
