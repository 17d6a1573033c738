namespace Flywheel.Console.Tests.Fakes;

/// <summary>Deployments, rollouts, drift reports and audit pages as the registry and the drift monitor write them.</summary>
public static class CannedServing
{
    public const string RolloutId = "0190a6b2-5555-7000-8000-000000000005";
    public const string ReportOld = "0190a6b2-6666-7000-8000-000000000001";
    public const string ReportNew = "0190a6b2-6666-7000-8000-000000000002";

    public const string Deployment = """
        { "model": "card-fraud", "revision": 4, "production": 1,
          "canary": { "version": 2, "percent": 50, "auto_promote": false }, "shadow": null, "sticky_by": "card_id",
          "updated_at": "2026-01-04T10:00:00+00:00", "updated_by": "orchestrator", "reason": "Canary of v2" }
        """;

    public const string History = """
        { "model": "card-fraud", "history": [
          { "revision": 4, "at": "2026-01-04T10:00:00+00:00", "actor": "orchestrator", "action": "deploy", "reason": "Canary of v2",
            "deployment": { "production": 1 }, "previous": { "production": 1 } },
          { "revision": 3, "at": "2026-01-03T10:00:00+00:00", "actor": "alice", "action": "deploy", "reason": null,
            "deployment": { "production": 1 }, "previous": null } ] }
        """;

    public static string Rollout(string state, string analyses = "[]", string? reason = null) => $$"""
        { "rollout_id": "{{RolloutId}}", "model": "card-fraud", "version": 2, "production_version": 1, "state": "{{state}}",
          "trigger": "manual", "requested_by": "alice", "requested_at": "2026-01-04T09:59:00+00:00", "updated_at": "2026-01-04T10:05:00+00:00",
          "require_approval": true, "policy": { "canary_percent": 50 },
          "shadow_started_at": null, "canary_started_at": "2026-01-04T10:00:00+00:00", "bake_ends_at": "2026-01-04T10:12:00+00:00",
          "reason": {{(reason is null ? "null" : $"\"{reason}\"")}},
          "timeline": [ { "at": "2026-01-04T10:00:00+00:00", "event": "canary_started", "detail": "v2 on 50% of traffic" } ],
          "analyses": {{analyses}} }
        """;

    public const string PassingAnalysis = """
        [ { "at": "2026-01-04T10:04:00+00:00", "bake_complete": false, "outcome": "continue", "reason": "Keep baking: 20 of 30 canary requests.",
            "checks": [], "production_requests": 25, "canary_requests": 20 },
          { "at": "2026-01-04T10:12:00+00:00", "bake_complete": true, "outcome": "promote",
            "reason": "Promote: no check found the canary worse.",
            "checks": [
              { "name": "traffic", "passed": true, "detail": "42 and 40 requests", "production": 42, "canary": 40, "p_value": null },
              { "name": "latency_p95", "passed": true, "detail": "p95 0.41 ms vs 0.39 ms", "production": 0.41, "canary": 0.39, "p_value": 0.62 },
              { "name": "accuracy", "passed": false, "detail": "accuracy 0.9 vs 0.7", "production": 0.9, "canary": 0.7, "p_value": 0.003 },
              { "name": "auc", "passed": true, "detail": "AUC 0.81 vs 0.8", "production": 0.8, "canary": 0.81, "p_value": 0.7 } ],
            "production_requests": 42, "canary_requests": 40 } ]
        """;

    public static string Rollouts(params string[] rollouts) => $$"""{ "model": "card-fraud", "rollouts": [ {{string.Join(",", rollouts)}} ] }""";

    public static string Decisions(params string[] decisions) => $$"""{ "model": "card-fraud", "decisions": [ {{string.Join(",", decisions)}} ] }""";

    public static string Decision(string decision, string reason, string? runId = null) => $$"""
        { "id": "0190a6b2-7777-7000-8000-000000000001", "trigger": "drift", "decision": "{{decision}}", "reason": "{{reason}}",
          "run_id": {{(runId is null ? "null" : $"\"{runId}\"")}}, "parent_version": 1, "requested_by": "drift-monitor",
          "detail": {}, "at": "2026-01-04T08:00:00+00:00" }
        """;

    public static string Histogram(string bins, string reference, string current) => $$"""{ "bins": {{bins}}, "reference": {{reference}}, "current": {{current}} }""";

    public static string Feature(string name, bool drifted, string? test = "kolmogorov_smirnov", string? histogram = null, bool missingDrifted = false, string? skipped = null) => $$"""
        { "name": "{{name}}", "test": {{(test is null ? "null" : $"\"{test}\"")}}, "statistic": {{(test is null ? "null" : "0.31")}},
          "p_value": {{(test is null ? "null" : "0.001")}}, "threshold": {{(test is null ? "null" : "0.05")}}, "drifted": {{(drifted ? "true" : "false")}},
          "reference_missing_rate": 0, "missing_rate": 0.02, "missing_rate_drifted": {{(missingDrifted ? "true" : "false")}},
          "out_of_range_rate": 0, "out_of_range_drifted": false,
          "histogram": {{histogram ?? Histogram("[]", "[]", "[]")}}, "values": 400,
          "skipped": {{(skipped is null ? "null" : $"\"{skipped}\"")}} }
        """;

    public static string Report(string id, string createdAt, string features, bool drifted, string? performance = null) => $$"""
        { "report_id": "{{id}}", "model": "card-fraud", "version": 1, "trigger": "scheduled", "created_at": "{{createdAt}}",
          "window": { "kind": "time", "from": "2026-01-04T09:00:00+00:00", "to": "{{createdAt}}", "rows": 400 },
          "drifted": {{(drifted ? "true" : "false")}}, "drifted_share": {{(drifted ? "0.5" : "0")}},
          "features": {{features}},
          "prediction": { "test": "wasserstein", "statistic": 0.22, "p_value": null, "threshold": 0.1, "drifted": true,
                          "histogram": {{Histogram("""["[0, 0.5)", "[0.5, 1]"]""", "[0.8, 0.2]", "[0.4, 0.6]")}}, "values": 400 },
          "performance": {{performance ?? "null"}}, "performance_degraded": false, "events": [] }
        """;

    public static string Performance(double value, double low, double high) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""
        { "metric": "auc", "value": {{value}}, "ci_low": {{low}}, "ci_high": {{high}}, "labelled_rows": 120, "confidence": 0.95,
          "training_value": 0.9, "degraded": false, "metrics": [] }
        """);

    public static string Reports(params string[] reports) => $$"""{ "model": "card-fraud", "reports": [ {{string.Join(",", reports)}} ] }""";

    public static string Audit(long? nextBefore, params string[] entries) =>
        $$"""{ "entries": [ {{string.Join(",", entries)}} ], "next_before": {{(nextBefore is { } n ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}} }""";

    public static string AuditEntry(long id, string actor, string action, string subject = "card-fraud") => $$"""
        { "id": {{id}}, "at": "2026-01-04T10:13:00+00:00", "actor": "{{actor}}", "action": "{{action}}", "subject": "{{subject}}",
          "detail": { "rollout_id": "{{RolloutId}}", "version": 2 } }
        """;
}
