using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Flywheel.Registry.Overview;

/// <summary>
/// <c>GET /api/overview</c>: every model's serving state, traffic, drift verdict and live metric in
/// one read, for the console's overview page. Anonymous like the other model reads.
/// </summary>
/// <remarks>
/// One round trip of a few statements, each driven by the model list so the prediction log is read
/// through its (model, at) index and only the partitions of the window: the log is partitioned by
/// day and large, and this page asks every few seconds.
/// </remarks>
public static class OverviewApi
{
    public const int DefaultWindowSeconds = 300;
    public const int MinWindowSeconds = 60;
    public const int MaxWindowSeconds = 3600;
    public const int SeriesMinutes = 30;

    /// <summary>
    /// How many of a model's newest reports are searched for the latest live metric: reports
    /// without labels carry none, and an old metric is no longer "live".
    /// </summary>
    public const int LiveMetricLookback = 200;

    public static void MapOverviewApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api").WithTags("Overview")
            .MapGet("/overview", GetAsync).WithName("GetOverview")
            .WithSummary("Every model: its deployment, traffic, errors and latency over a window, a per-minute series, its latest drift verdict and live metric.");
    }

    public static async Task<Results<Ok<OverviewResponse>, ValidationProblem>> GetAsync(
        NpgsqlDataSource database, CancellationToken cancellationToken, string? window = null)
    {
        var seconds = DefaultWindowSeconds;
        if (window is not null && !(int.TryParse(window, NumberStyles.None, CultureInfo.InvariantCulture, out seconds) && seconds is >= MinWindowSeconds and <= MaxWindowSeconds))
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["window"] = [$"must be a whole number of seconds from {MinWindowSeconds} to {MaxWindowSeconds}; '{window}' is not."] },
                title: "The overview window is not valid.");
        }

        var now = DateTimeOffset.UtcNow;
        var since = now.AddSeconds(-seconds);
        var firstMinute = Minute(now).AddMinutes(-(SeriesMinutes - 1));

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                Command("""
                    SELECT m.name, m.task, d.revision, d.production, d.canary_version, d.canary_percent, d.shadow_version, d.shadow_percent, d.updated_at
                    FROM registry.models m LEFT JOIN registry.deployments d ON d.model = m.name
                    ORDER BY m.name
                    """),
                // The empty grouping set is the model's total over all versions.
                Command("""
                    SELECT m.name, p.version, p.requests, p.p50, p.p95
                    FROM registry.models m CROSS JOIN LATERAL (
                        SELECT version, count(*) AS requests,
                               percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_us) AS p50,
                               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_us) AS p95
                        FROM inference.predictions
                        WHERE model = m.name AND at > $1 AND at <= $2 AND NOT shadow
                        GROUP BY GROUPING SETS ((version), ())) p
                    """, since, now),
                Command("""
                    SELECT m.name, e.version, e.errors
                    FROM registry.models m CROSS JOIN LATERAL (
                        SELECT version, sum(rows)::bigint AS errors
                        FROM inference.prediction_errors
                        WHERE model = m.name AND at > $1 AND at <= $2 AND NOT shadow
                        GROUP BY version) e
                    """, since, now),
                Command("""
                    SELECT m.name, s.minute, s.requests, s.p95
                    FROM registry.models m CROSS JOIN LATERAL (
                        SELECT date_bin('1 minute', at, $1) AS minute, count(*) AS requests,
                               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_us) AS p95
                        FROM inference.predictions
                        WHERE model = m.name AND at >= $1 AND at <= $2 AND NOT shadow
                        GROUP BY 1) s
                    """, firstMinute, now),
                Command("""
                    SELECT m.name, s.minute, s.errors
                    FROM registry.models m CROSS JOIN LATERAL (
                        SELECT date_bin('1 minute', at, $1) AS minute, sum(rows)::bigint AS errors
                        FROM inference.prediction_errors
                        WHERE model = m.name AND at >= $1 AND at <= $2 AND NOT shadow
                        GROUP BY 1) s
                    """, firstMinute, now),
                Command("""
                    SELECT m.name, r.report_id, r.version, r.drifted, r.created_at,
                           (SELECT count(*) FROM jsonb_array_elements(coalesce(r.report->'features', '[]'::jsonb)) f
                            WHERE coalesce((f->>'drifted')::boolean, false) OR coalesce((f->>'missing_rate_drifted')::boolean, false)
                               OR coalesce((f->>'out_of_range_drifted')::boolean, false))::integer,
                           coalesce(jsonb_array_length(r.report->'features'), 0)
                    FROM registry.models m CROSS JOIN LATERAL (
                        -- A report over a window without predictions says nothing about drift: it is not the verdict.
                        SELECT report_id, version, drifted, created_at, report FROM monitoring.reports
                        WHERE model = m.name AND rows > 0 ORDER BY created_at DESC LIMIT 1) r
                    """),
                Command($"""
                    SELECT m.name, r.report_id, r.version, r.created_at, r.performance->>'metric', (r.performance->>'value')::double precision,
                           (r.performance->>'ci_low')::double precision, (r.performance->>'ci_high')::double precision,
                           coalesce((r.performance->>'confidence')::double precision, 0), coalesce((r.performance->>'labelled_rows')::bigint, 0),
                           coalesce((r.performance->>'degraded')::boolean, false)
                    FROM registry.models m CROSS JOIN LATERAL (
                        SELECT report_id, version, created_at, report->'performance' AS performance
                        FROM (SELECT * FROM monitoring.reports WHERE model = m.name ORDER BY created_at DESC LIMIT {LiveMetricLookback}) recent
                        WHERE jsonb_typeof(report->'performance') = 'object'
                        ORDER BY created_at DESC LIMIT 1) r
                    """),
            },
        };

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var models = new List<(string Name, string Task, DeploymentSplit? Deployment)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            DeploymentSplit? deployment = null;
            if (!reader.IsDBNull(2))
            {
                var canary = reader.IsDBNull(4) ? null : new VersionShare(reader.GetInt32(4), reader.GetDouble(5));
                var shadow = reader.IsDBNull(6) ? null : new VersionShare(reader.GetInt32(6), reader.GetDouble(7));
                deployment = new DeploymentSplit(reader.GetInt64(2), reader.GetInt32(3), 100 - (canary?.Percent ?? 0), canary, shadow, reader.GetFieldValue<DateTimeOffset>(8));
            }

            models.Add((reader.GetString(0), reader.GetString(1), deployment));
        }

        // Per model: version (null: all versions) → answered rows and latency percentiles in µs.
        var answered = new Dictionary<(string, int?), (long Requests, double? P50, double? P95)>();
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            answered[(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetInt32(1))] =
                (reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetDouble(3), reader.IsDBNull(4) ? null : reader.GetDouble(4));
        }

        var failed = new Dictionary<(string, int), long>();
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            failed[(reader.GetString(0), reader.GetInt32(1))] = reader.GetInt64(2);
        }

        var minutes = new Dictionary<(string, DateTimeOffset), (long Requests, double? P95)>();
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            minutes[(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1))] = (reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetDouble(3));
        }

        var minuteErrors = new Dictionary<(string, DateTimeOffset), long>();
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            minuteErrors[(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1))] = reader.GetInt64(2);
        }

        var drift = new Dictionary<string, DriftVerdict>(StringComparer.Ordinal);
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            drift[reader.GetString(0)] = new DriftVerdict(reader.GetGuid(1), reader.GetInt32(2), reader.GetBoolean(3), reader.GetInt32(5), reader.GetInt32(6), reader.GetFieldValue<DateTimeOffset>(4));
        }

        var live = new Dictionary<string, LiveMetric>(StringComparer.Ordinal);
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.IsDBNull(4) || reader.IsDBNull(5))
            {
                continue;
            }

            live[reader.GetString(0)] = new LiveMetric(reader.GetGuid(1), reader.GetInt32(2), reader.GetString(4), reader.GetDouble(5),
                reader.IsDBNull(6) ? null : reader.GetDouble(6), reader.IsDBNull(7) ? null : reader.GetDouble(7),
                reader.GetDouble(8), reader.GetInt64(9), reader.GetBoolean(10), reader.GetFieldValue<DateTimeOffset>(3));
        }

        var overviews = models.Select(model =>
        {
            var total = answered.GetValueOrDefault((model.Name, null));
            var totalErrors = failed.Where(f => f.Key.Item1 == model.Name).Sum(f => f.Value);
            var versions = answered.Keys.Where(k => k.Item1 == model.Name && k.Item2 is not null).Select(k => k.Item2!.Value)
                .Union(failed.Keys.Where(k => k.Item1 == model.Name).Select(k => k.Item2))
                .Order()
                .Select(version =>
                {
                    var served = answered.GetValueOrDefault((model.Name, version));
                    var stats = Stats(served.Requests, failed.GetValueOrDefault((model.Name, version)), served.P50, served.P95, seconds);
                    return new VersionTraffic(version, stats.Requests, stats.RatePerSecond, stats.Errors, stats.ErrorRate, stats.P50Ms, stats.P95Ms);
                })
                .ToList();
            var series = Enumerable.Range(0, SeriesMinutes).Select(i =>
            {
                var minute = firstMinute.AddMinutes(i);
                var served = minutes.GetValueOrDefault((model.Name, minute));
                return new MinutePoint(minute, served.Requests, minuteErrors.GetValueOrDefault((model.Name, minute)), Milliseconds(served.P95));
            }).ToList();
            return new ModelOverview(model.Name, model.Task, model.Deployment, Stats(total.Requests, totalErrors, total.P50, total.P95, seconds), versions, series, drift.GetValueOrDefault(model.Name), live.GetValueOrDefault(model.Name));
        }).ToList();

        return TypedResults.Ok(new OverviewResponse(now, seconds, SeriesMinutes, overviews));
    }

    private static TrafficStats Stats(long requests, long errors, double? p50Us, double? p95Us, int seconds) =>
        new(requests, (double)requests / seconds, errors,
            requests + errors == 0 ? null : (double)errors / (requests + errors),
            requests == 0 ? null : Milliseconds(p50Us), requests == 0 ? null : Milliseconds(p95Us));

    private static double? Milliseconds(double? microseconds) => microseconds / 1000.0;

    private static DateTimeOffset Minute(DateTimeOffset at) => new(at.UtcDateTime.Ticks - at.UtcDateTime.Ticks % TimeSpan.TicksPerMinute, TimeSpan.Zero);

    private static NpgsqlBatchCommand Command(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command;
    }
}
