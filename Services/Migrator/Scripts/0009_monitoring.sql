-- Monitoring: each model's monitoring policy, the drift and performance reports of its windows,
-- the episodes that hold repeated alerts back, and the drift monitor's outbox.

-- A model's policy as PUT through the API; no row means the defaults (Flywheel.DriftMonitor.Monitoring.MonitoringPolicy).
CREATE TABLE monitoring.policies (
    model       text PRIMARY KEY REFERENCES registry.models (name),
    policy      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);

-- One row per evaluated window, append-only: the report is what the API returns, the columns are
-- what it filters by.
CREATE TABLE monitoring.reports (
    report_id             uuid PRIMARY KEY,
    model                 text NOT NULL REFERENCES registry.models (name),
    version               integer NOT NULL,
    window_from           timestamptz NOT NULL,
    window_to             timestamptz NOT NULL,
    rows                  bigint NOT NULL CHECK (rows >= 0),
    drifted               boolean NOT NULL,
    performance_degraded  boolean NOT NULL,
    report                jsonb NOT NULL,
    trigger               text NOT NULL CHECK (trigger IN ('scheduled', 'manual')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (model, version) REFERENCES registry.model_versions (model, version),
    CHECK (window_from <= window_to)
);

CREATE INDEX reports_by_model_time ON monitoring.reports (model, created_at DESC);

CREATE TRIGGER reports_append_only
    BEFORE UPDATE OR DELETE ON monitoring.reports
    FOR EACH STATEMENT EXECUTE FUNCTION registry.refuse_change('monitoring reports are append-only');

-- One row per model and kind of alert ('drift' or 'performance'). An episode opens with the first
-- flagged window and publishes one event; later flagged windows stay quiet until the cooldown has
-- passed since that event, and a clean window closes the episode.
CREATE TABLE monitoring.episodes (
    model            text NOT NULL REFERENCES registry.models (name),
    kind             text NOT NULL CHECK (kind IN ('drift', 'performance')),
    open             boolean NOT NULL,
    opened_at        timestamptz,
    last_event_at    timestamptz,
    last_report_id   uuid REFERENCES monitoring.reports (report_id),
    events           bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, kind)
);

-- DriftDetected and PerformanceDegraded, written with the report that found them (ServiceDefaults/Outbox.cs).
CREATE TABLE monitoring.outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_type  text NOT NULL,
    body          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX monitoring_outbox_unsent ON monitoring.outbox (id) WHERE sent_at IS NULL;

-- Service identities get their rights from the migrator's PrincipalGrants (every table and view of
-- the Flywheel schemas, including these and inference.labelled_predictions, by default privileges).
