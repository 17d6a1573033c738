namespace Flywheel.Console.Tests.Fakes;

/// <summary>Logged predictions as <c>GET /api/predictions/{id}</c> writes them.</summary>
public static class CannedPredictions
{
    public const string PredictionId = "0190a6b2-8888-7000-8000-000000000008";

    public const string Path = $"/api/predictions/{PredictionId}";

    public const string Label = """{ "label": true, "received_at": "2026-01-05T12:00:00+00:00", "matched_by": "prediction_id", "joined": true, "caller": "checkout" }""";

    public const string ShadowLabel = """{ "label": false, "received_at": "2026-01-05T12:00:00+00:00", "matched_by": "prediction_id", "joined": false, "caller": "checkout" }""";

    public static string Prediction(string feedback = "null", bool shadow = false) => $$"""
        {
          "prediction_id": "{{PredictionId}}", "at": "2026-01-05T11:59:58.123+00:00", "model": "card-fraud", "version": 3,
          "shadow": {{(shadow ? "true" : "false")}}, "entity_id": "card-17", "caller": "checkout", "latency_us": 1840, "batch_size": 4,
          "inputs": { "amount": 42.5, "merchant_category": "travel", "email": "hmac-sha256:77aa" },
          "outputs": { "label": true, "score": 0.875 },
          "feedback": {{feedback}},
          "lineage": {
            "version": 3, "version_created_at": "2026-01-03T10:00:00+00:00", "parent_version": 2, "code_version": "0.1.0+abc123",
            "training_run": { "run_id": "{{Canned.RunId}}", "trainer": "lightgbm", "hyperparameters": { "num_leaves": 31, "learning_rate": 0.05 },
              "seed": 42, "trigger": "drift", "requested_by": "orchestrator", "requested_at": "2026-01-03T09:59:00+00:00" },
            "snapshot": { "snapshot_id": "{{Canned.SnapshotId}}", "sha256": "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed", "rows": 1000,
              "window_from": null, "window_to": "2026-01-01T00:00:00+00:00", "created_at": "2026-01-03T09:59:30+00:00" },
            "links": { "version": "/api/models/card-fraud/versions/3", "training_run": "/api/training-runs/{{Canned.RunId}}",
              "snapshot": "/api/models/card-fraud/snapshots/{{Canned.SnapshotId}}" }
          }
        }
        """;
}
