using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Flywheel.Contracts;
using Flywheel.Contracts.Monitoring;
using Flywheel.Core.Drift;
using Flywheel.Core.Monitoring;
using Flywheel.Core.Schema;
using Flywheel.Core.Serving;
using Flywheel.DriftMonitor.Reports;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Flywheel.DriftMonitor.Monitoring;

/// <summary>What one evaluation came to: a stored report, or why there is none.</summary>
public sealed record EvaluationOutcome(MonitoringReport? Report, string? NotEvaluated);

/// <summary>
/// Evaluates one window of a model's production version: reads its served, non-shadow predictions
/// from the log, compares them with the version's reference profile, computes the live metric from
/// the labelled ones, and stores the report. A scheduled report also moves the model's episodes and
/// writes the events they call for, in the report's transaction, so a report and its event commit
/// together or not at all.
/// </summary>
public sealed partial class WindowEvaluator(
    NpgsqlDataSource database, IOptions<JsonOptions> json, MonitorMetrics metrics, TimeProvider clock, ILogger<WindowEvaluator> logger)
{
    public const string DriftEpisode = "drift";
    public const string PerformanceEpisode = "performance";

    private const string UndefinedTable = "42P01";
    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;

    /// <param name="from">Explicit window start; with neither bound the policy's current window is used.</param>
    /// <param name="to">Explicit window end (default now).</param>
    public async Task<EvaluationOutcome> EvaluateAsync(
        ModelSchema schema, int version, MonitoringPolicy policy, DateTimeOffset? from, DateTimeOffset? to, string trigger, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var served = await MonitoredModels.FindVersionAsync(database, schema.Name, version, cancellationToken)
            ?? throw new InvalidOperationException($"Model '{schema.Name}' has no version {version}.");
        var window = new DriftWindow(schema, served.Profile);
        var bounds = await ReadWindowAsync(schema, version, policy.EffectiveWindow, from, to, window, cancellationToken);
        if (trigger == ReportTriggers.Scheduled && window.Rows < policy.MinimumRows)
        {
            LogSkipped(schema.Name, version, window.Rows, policy.MinimumRows);
            metrics.Skipped(schema.Name);
            return new(null, $"{window.Rows} predictions in the window; the policy needs {policy.MinimumRows}.");
        }

        var drift = DriftEvaluator.Evaluate(window, policy.EffectiveDrift);
        var performance = await LivePerformanceAsync(schema, served, policy, bounds.From, bounds.To, cancellationToken);
        var report = new MonitoringReport(
            Guid.CreateVersion7(),
            schema.Name,
            version,
            trigger,
            clock.GetUtcNow(),
            new ReportWindow(policy.EffectiveWindow.Kind, bounds.From, bounds.To, window.Rows),
            drift.Drifted,
            drift.DriftedShare,
            drift.Features,
            drift.Prediction,
            performance,
            performance?.Degraded ?? false,
            []);
        report = await StoreAsync(report, policy, cancellationToken);
        metrics.Evaluated(report, Stopwatch.GetElapsedTime(started));
        LogEvaluated(schema.Name, version, trigger, window.Rows, report.Drifted, report.PerformanceDegraded);
        return new(report, null);
    }

    /// <summary>
    /// Adds the window's predictions to <paramref name="window"/>. A time window is the last
    /// minutes up to now; a count window the newest rows up to now; explicit bounds replace either
    /// (a count window then takes the newest rows within them). At most
    /// <see cref="MonitoringPolicy.MaxWindowRows"/> rows, newest first, whatever the kind.
    /// </summary>
    private async Task<(DateTimeOffset From, DateTimeOffset To)> ReadWindowAsync(
        ModelSchema schema, int version, MonitoringWindow policyWindow, DateTimeOffset? from, DateTimeOffset? to, DriftWindow window, CancellationToken cancellationToken)
    {
        var end = to ?? clock.GetUtcNow();
        var start = from ?? (policyWindow.Kind == WindowKind.Time ? end.AddMinutes(-policyWindow.Minutes) : DateTimeOffset.UnixEpoch);
        var limit = policyWindow.Kind == WindowKind.Count ? policyWindow.Rows : MonitoringPolicy.MaxWindowRows;
        await using var command = database.CreateCommand("""
            SELECT at, inputs::text, outputs::text FROM inference.predictions
            WHERE model = $1 AND version = $2 AND NOT shadow AND at >= $3 AND at <= $4
            ORDER BY at DESC
            LIMIT $5
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = schema.Name });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        command.Parameters.Add(new NpgsqlParameter { Value = start });
        command.Parameters.Add(new NpgsqlParameter { Value = end });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var features = new Dictionary<string, object?>(schema.Features.Count, StringComparer.Ordinal);
        DateTimeOffset? oldest = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            oldest = reader.GetFieldValue<DateTimeOffset>(0);
            features.Clear();
            using (var inputs = JsonDocument.Parse(reader.GetString(1)))
            {
                foreach (var feature in schema.Features)
                {
                    features[feature.Name] = inputs.RootElement.TryGetProperty(feature.Name, out var value) ? Typed(feature, value) : null;
                }
            }

            using var outputs = JsonDocument.Parse(reader.GetString(2));
            window.Add(features, Score(schema.Task, outputs.RootElement));
        }

        // A count window spans its rows; an explicit or time window its bounds.
        return (policyWindow.Kind == WindowKind.Count && from is null ? oldest ?? end : start, end);
    }

    /// <summary>
    /// A logged input as <see cref="DriftWindow"/> takes it. The log holds what the worker served,
    /// already checked against the schema, so a value of another JSON type only appears when the
    /// schema changed under old rows; such a value counts as missing rather than failing the window.
    /// </summary>
    private static object? Typed(FeatureDefinition feature, JsonElement value)
    {
        if (feature.Pii)
        {
            return value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined ? null : value.ToString();
        }

        return (feature.Type, value.ValueKind) switch
        {
            (FeatureType.Numeric, JsonValueKind.Number) when double.IsFinite(value.GetDouble()) => value.GetDouble(),
            (FeatureType.Categorical, JsonValueKind.String) => value.GetString(),
            (FeatureType.Categorical, JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False) => value.GetRawText(),
            (FeatureType.Boolean, JsonValueKind.True) => true,
            (FeatureType.Boolean, JsonValueKind.False) => false,
            _ => null,
        };
    }

    /// <summary>The number the reference profiled as the version's score: P(positive), the winning class's probability, or the value.</summary>
    private static double? Score(ModelTask task, JsonElement outputs)
    {
        var key = task == ModelTask.Regression ? PredictionOutputs.ValueKey : PredictionOutputs.ScoreKey;
        return outputs.TryGetProperty(key, out var score) && score.ValueKind == JsonValueKind.Number && double.IsFinite(score.GetDouble())
            ? score.GetDouble()
            : null;
    }

    private async Task<LivePerformanceReport?> LivePerformanceAsync(
        ModelSchema schema, MonitoredVersion served, MonitoringPolicy policy, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var rows = new List<(JsonElement Outputs, JsonElement Label)>();
        try
        {
            await using var command = database.CreateCommand($"""
                SELECT outputs::text, label::text FROM inference.labelled_predictions
                WHERE model = $1 AND version = $2 AND at >= $3 AND at <= $4
                LIMIT {MonitoringPolicy.MaxWindowRows}
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = schema.Name });
            command.Parameters.Add(new NpgsqlParameter { Value = served.Version });
            command.Parameters.Add(new NpgsqlParameter { Value = from });
            command.Parameters.Add(new NpgsqlParameter { Value = to });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((JsonElement.Parse(reader.GetString(0)), JsonElement.Parse(reader.GetString(1))));
            }
        }
        catch (PostgresException exception) when (exception.SqlState == UndefinedTable)
        {
            // The feedback migration (inference.labelled_predictions) is not applied: no labels, no live metric.
            LogNoLabelView();
            return null;
        }

        var estimates = Estimate(schema.Task, rows).Where(e => double.IsFinite(e.Value)).ToList();
        if (estimates.Count == 0)
        {
            return null;
        }

        var primary = estimates[0];
        double? training = served.TrainingMetrics.TryGetValue(primary.Metric, out var value) ? value : null;
        var degraded = training is { } baseline &&
            LivePerformance.IsDegraded(primary, baseline, policy.PerformanceTolerance, HigherIsBetter(primary.Metric));
        return new LivePerformanceReport(
            primary.Metric, primary.Value, primary.CiLow, primary.CiHigh, primary.LabelledRows, primary.Confidence, training, degraded, estimates);
    }

    private static IReadOnlyList<PerformanceEstimate> Estimate(ModelTask task, List<(JsonElement Outputs, JsonElement Label)> rows)
    {
        switch (task)
        {
            case ModelTask.Binary:
                {
                    var labels = new List<bool>(rows.Count);
                    var scores = new List<double>(rows.Count);
                    foreach (var (outputs, label) in rows)
                    {
                        if (Score(task, outputs) is { } score && score is >= 0 and <= 1 && BinaryOutcome.Positive(label, outputs, score) is { } positive)
                        {
                            labels.Add(positive);
                            scores.Add(score);
                        }
                    }

                    return LivePerformance.Binary(labels, scores);
                }

            case ModelTask.Multiclass:
                {
                    var labels = new List<string>(rows.Count);
                    var predicted = new List<string>(rows.Count);
                    foreach (var (outputs, label) in rows)
                    {
                        if (outputs.TryGetProperty(PredictionOutputs.LabelKey, out var p) && p.ValueKind == JsonValueKind.String &&
                            label.ValueKind is JsonValueKind.String or JsonValueKind.Number)
                        {
                            labels.Add(label.ValueKind == JsonValueKind.String ? label.GetString()! : label.GetRawText());
                            predicted.Add(p.GetString()!);
                        }
                    }

                    return LivePerformance.Multiclass(labels, predicted);
                }

            default:
                {
                    var labels = new List<double>(rows.Count);
                    var predicted = new List<double>(rows.Count);
                    foreach (var (outputs, label) in rows)
                    {
                        if (Score(task, outputs) is { } value && Number(label) is { } actual)
                        {
                            labels.Add(actual);
                            predicted.Add(value);
                        }
                    }

                    return LivePerformance.Regression(labels, predicted);
                }
        }
    }

    private static double? Number(JsonElement label) => label.ValueKind switch
    {
        JsonValueKind.Number when double.IsFinite(label.GetDouble()) => label.GetDouble(),
        JsonValueKind.String when double.TryParse(label.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && double.IsFinite(parsed) => parsed,
        _ => null,
    };

    public static bool HigherIsBetter(string metric) => metric is not ("rmse" or "mae" or "log_loss");

    /// <summary>
    /// Stores the report; a scheduled one first moves the model's episodes under a row lock (so two
    /// monitors, or a slow and a fast evaluation, cannot both open one) and enqueues the events.
    /// </summary>
    private async Task<MonitoringReport> StoreAsync(MonitoringReport report, MonitoringPolicy policy, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var events = new List<object>();
        var episodes = new List<(string Kind, bool Open, bool Published)>();
        if (report.Trigger == ReportTriggers.Scheduled)
        {
            var flagged = new Dictionary<string, bool> { [DriftEpisode] = report.Drifted, [PerformanceEpisode] = report.PerformanceDegraded };
            foreach (var (kind, isFlagged) in flagged)
            {
                // A window without labels says nothing about performance: it neither opens nor closes an episode.
                if (kind == PerformanceEpisode && report.Performance is not { CiLow: not null })
                {
                    continue;
                }

                var (open, lastEvent) = await LockEpisodeAsync(connection, transaction, report.Model, kind, cancellationToken);
                var publish = isFlagged && (!open || lastEvent is null || report.CreatedAt - lastEvent.Value >= TimeSpan.FromMinutes(policy.CooldownMinutes));
                episodes.Add((kind, isFlagged, publish));
                if (publish)
                {
                    events.Add(kind == DriftEpisode ? DriftEvent(report) : PerformanceEvent(report));
                }
            }
        }

        report = report with { Events = [.. events.Select(e => e.GetType().Name)] };
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO monitoring.reports (report_id, model, version, window_from, window_to, rows, drifted, performance_degraded, report, trigger, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = report.ReportId });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.Model });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.Version });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.Window.From });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.Window.To });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.Window.Rows });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.Drifted });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.PerformanceDegraded });
            insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(report, _json) });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.Trigger });
            insert.Parameters.Add(new NpgsqlParameter { Value = report.CreatedAt });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var (kind, open, published) in episodes)
        {
            await using var update = new NpgsqlCommand("""
                UPDATE monitoring.episodes SET
                    opened_at = CASE WHEN $3 AND NOT open THEN $5 WHEN $3 THEN opened_at END,
                    open = $3,
                    last_event_at = CASE WHEN $4 THEN $5 ELSE last_event_at END,
                    events = events + CASE WHEN $4 THEN 1 ELSE 0 END,
                    last_report_id = $6,
                    updated_at = $5
                WHERE model = $1 AND kind = $2
                """, connection, transaction);
            update.Parameters.Add(new NpgsqlParameter { Value = report.Model });
            update.Parameters.Add(new NpgsqlParameter { Value = kind });
            update.Parameters.Add(new NpgsqlParameter { Value = open });
            update.Parameters.Add(new NpgsqlParameter { Value = published });
            update.Parameters.Add(new NpgsqlParameter { Value = report.CreatedAt });
            update.Parameters.Add(new NpgsqlParameter { Value = report.ReportId });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var message in events)
        {
            await Outbox.EnqueueAsync(connection, transaction, DatabaseSchemas.Monitoring, message, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        foreach (var message in events)
        {
            metrics.Published(report.Model, message.GetType().Name);
            LogPublished(message.GetType().Name, report.Model, report.Version, report.ReportId);
        }

        return report;
    }

    private static async Task<(bool Open, DateTimeOffset? LastEvent)> LockEpisodeAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string model, string kind, CancellationToken cancellationToken)
    {
        await using (var ensure = new NpgsqlCommand(
            "INSERT INTO monitoring.episodes (model, kind, open) VALUES ($1, $2, false) ON CONFLICT (model, kind) DO NOTHING", connection, transaction))
        {
            ensure.Parameters.Add(new NpgsqlParameter { Value = model });
            ensure.Parameters.Add(new NpgsqlParameter { Value = kind });
            await ensure.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var select = new NpgsqlCommand(
            "SELECT open, last_event_at FROM monitoring.episodes WHERE model = $1 AND kind = $2 FOR UPDATE", connection, transaction);
        select.Parameters.Add(new NpgsqlParameter { Value = model });
        select.Parameters.Add(new NpgsqlParameter { Value = kind });
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetBoolean(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
    }

    private static DriftDetected DriftEvent(MonitoringReport report) => new(
        report.ReportId,
        report.Model,
        report.Version,
        report.Window.From,
        report.Window.To,
        report.Window.Rows,
        report.DriftedShare,
        [.. report.Features.Where(f => f.Drifted).Select(f => f.Name)],
        report.Prediction?.Drifted ?? false,
        report.CreatedAt);

    private static PerformanceDegraded PerformanceEvent(MonitoringReport report)
    {
        var performance = report.Performance!;
        return new(
            report.ReportId,
            report.Model,
            report.Version,
            performance.Metric,
            performance.Value,
            performance.CiLow,
            performance.CiHigh,
            performance.TrainingValue!.Value,
            performance.LabelledRows,
            report.CreatedAt);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Skipped {Model} v{Version}: {Rows} predictions in the window, fewer than the policy's minimum of {Minimum}")]
    private partial void LogSkipped(string model, int version, long rows, int minimum);

    [LoggerMessage(Level = LogLevel.Information, Message = "Evaluated {Model} v{Version} ({Trigger}) over {Rows} predictions: drifted {Drifted}, performance degraded {Degraded}")]
    private partial void LogEvaluated(string model, int version, string trigger, long rows, bool drifted, bool degraded);

    [LoggerMessage(Level = LogLevel.Information, Message = "Published {Event} for {Model} v{Version} (report {ReportId})")]
    private partial void LogPublished(string @event, string model, int version, Guid reportId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "inference.labelled_predictions does not exist (feedback migration not applied); reports carry no live performance")]
    private partial void LogNoLabelView();
}
