namespace Flywheel.Console.Tests.Fakes;

/// <summary>
/// Answers shaped as the registry writes them (snake_case, enums as names), including its quirks:
/// a version's split passes through with camelCase members, as the registry stores it.
/// </summary>
public static class Canned
{
    public const string RunId = "0190a6b2-7c1e-7d3a-9f00-2b4c5d6e7f80";
    public const string SnapshotId = "0190a6b2-0000-7000-8000-000000000001";
    public const string IngestionId = "0190a6b2-1111-7000-8000-000000000002";

    public const string NoModels = """{ "models": [] }""";

    public static string Model(string name = "card-fraud", string task = "binary") => $$"""
        {
          "name": "{{name}}", "task": "{{task}}", "entity_key": "card_id",
          "features": [
            { "name": "amount", "type": "numeric", "nullable": false, "min": 0, "max": 10000, "categories": null, "pii": false },
            { "name": "merchant_category", "type": "categorical", "nullable": true, "min": null, "max": null, "categories": ["grocery", "travel"], "pii": false },
            { "name": "email", "type": "categorical", "nullable": true, "min": null, "max": null, "categories": null, "pii": true }
          ],
          "target": { "name": "is_fraud", "type": "boolean" },
          "policy": { "require_approval": false },
          "created_at": "2026-01-02T03:04:05+00:00", "created_by": "admin"
        }
        """;

    public static string Models(params string[] models) => $$"""{ "models": [ {{string.Join(",", models)}} ] }""";

    public static string Version(int version, string metrics, int? parent = null, bool withProfile = false) => $$"""
        {
          "model": "card-fraud", "version": {{version}},
          "metrics": {{metrics}},
          "artifact": { "uri": "http://azurite:10000/devstoreaccount1/models/card-fraud/ab12.onnx", "sha256": "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12", "bytes": 20480 },
          "parity": { "max_abs_diff": 3.2e-7, "rows": 200 },
          "lineage": {
            "run_id": "{{RunId}}", "snapshot_id": "{{SnapshotId}}",
            "snapshot_sha256": "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed",
            "rows": 1000, "trainer": "lightgbm", "hyperparameters": { "num_leaves": 31, "learning_rate": 0.05 },
            "seed": 42, "code_version": "0.1.0+abc123", "parent_version": {{(parent is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}},
            "trigger": "manual", "split": { "method": "stratified", "trainRows": 800, "testRows": 200 }
          },
          "created_at": "2026-01-03T10:00:00+00:00",
          "reference_profile": {{(withProfile ? Profile : "null")}}
        }
        """;

    public static string Versions(params string[] versions) => $$"""{ "versions": [ {{string.Join(",", versions)}} ] }""";

    public const string Profile = """
        {
          "rows": 800,
          "features": [
            { "name": "amount", "type": "numeric", "count": 790, "missing": 10, "missing_rate": 0.0125,
              "numeric": { "count": 790, "min": 1.5, "max": 9000, "mean": 120.25, "std_dev": 30, "quantiles": [], "histogram": { "edges": [], "counts": [] } },
              "categorical": null },
            { "name": "merchant_category", "type": "categorical", "count": 800, "missing": 0, "missing_rate": 0,
              "numeric": null,
              "categorical": { "count": 800, "categories": [ { "value": "grocery", "count": 600, "share": 0.75 }, { "value": "travel", "count": 200, "share": 0.25 } ], "other_count": 0 } },
            { "name": "email", "type": "categorical", "count": 800, "missing": 0, "missing_rate": 0, "numeric": null, "categorical": null }
          ],
          "prediction": { "count": 800, "min": 0, "max": 1, "mean": 0.1, "std_dev": 0.2, "quantiles": [], "histogram": { "edges": [], "counts": [] } }
        }
        """;

    public static string Run(string state, string steps = "[]", string? error = null, int? version = null, string trials = "[]") => $$"""
        {
          "run_id": "{{RunId}}", "model": "card-fraud", "state": "{{state}}", "phase": "{{state}}",
          "spec": { "trainer": "lightgbm", "hyperparameters": null, "search_trials": 0, "from": null, "to": null, "seed": 42 },
          "trigger": "manual", "requested_by": "admin", "requested_at": "2026-01-03T09:59:00+00:00", "updated_at": "2026-01-03T10:00:00+00:00",
          "steps": {{steps}},
          "trials": {{trials}},
          "snapshot_id": "{{SnapshotId}}", "snapshot_sha256": "5eed5eed5eed5eed5eed",
          "trainer": "lightgbm", "hyperparameters": { "num_leaves": 31 }, "metrics": null,
          "error": {{(error is null ? "null" : $"\"{error}\"")}},
          "version": {{(version is { } v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}}
        }
        """;

    public static string Step(string name, string state, string startedAt, string? finishedAt = null, string? detail = null) => $$"""
        { "name": "{{name}}", "state": "{{state}}", "started_at": "{{startedAt}}",
          "finished_at": {{(finishedAt is null ? "null" : $"\"{finishedAt}\"")}}, "detail": {{(detail is null ? "null" : $"\"{detail}\"")}} }
        """;

    public static string Runs(params string[] runs) => $$"""{ "runs": [ {{string.Join(",", runs)}} ] }""";

    public const string Snapshot = $$"""
        { "snapshot_id": "{{SnapshotId}}", "model": "card-fraud", "from": null, "to": "2026-01-01T00:00:00+00:00",
          "rows": 1000, "sha256": "5eed5eed5eed5eed5eed5eed", "verified": null, "labels_joined": 990, "labels_unmatched": 10 }
        """;

    public static string Ingestion(long rejected, string quarantine) => $$"""
        {
          "ingestion_id": "{{IngestionId}}", "model": "card-fraud", "format": "csv", "state": "succeeded",
          "accepted": 97, "rejected": {{rejected}}, "duplicates": 1,
          "report": {
            "missing_rates": { "amount": 0, "merchant_category": 0.125, "email": 0.5 },
            "problems": { "amount": { "range": 2, "type": 1 }, "merchant_category": { "category": 4 }, "event_time": { "time": 1 } }
          },
          "error": null, "started_at": "2026-01-03T08:00:00+00:00", "finished_at": "2026-01-03T08:00:02+00:00",
          "quarantine": {{quarantine}}
        }
        """;

    public static string Ingestions(params string[] ingestions) => $$"""{ "ingestions": [ {{string.Join(",", ingestions)}} ] }""";

    public static string IngestionItem(string id, long accepted, long rejected, string state = "succeeded", string? error = null) => $$"""
        { "ingestion_id": "{{id}}", "format": "csv", "state": "{{state}}", "accepted": {{accepted}}, "rejected": {{rejected}}, "duplicates": 0,
          "error": {{(error is null ? "null" : $"\"{error}\"")}}, "started_at": "2026-01-03T08:00:00+00:00", "finished_at": "2026-01-03T08:00:02+00:00",
          "created_by": "bootstrap-admin" }
        """;

    public static string Quarantined(long line, string field, string message, string code) => $$"""
        { "line": {{line}}, "values": { "amount": "-5", "email": "someone@example.com" },
          "errors": [ { "field": "{{field}}", "message": "{{message}}", "code": "{{code}}" } ] }
        """;
}
