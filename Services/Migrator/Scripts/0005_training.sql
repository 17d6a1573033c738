-- Training: labels that arrive apart from their features, the runs asked for, the versions they
-- register, and the outboxes that publish each service's messages in the transaction of its change.

-- Labels keyed by entity and time. A training row joins each label with the entity's latest
-- observation at or before the label's time (point in time), never with one from after it.
CREATE TABLE registry.labels (
    model        text NOT NULL REFERENCES registry.models (name),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    entity_id    text NOT NULL,
    event_time   timestamptz NOT NULL,
    target       jsonb NOT NULL,
    source       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    PRIMARY KEY (model, id),
    UNIQUE (model, entity_id, event_time)
);

ALTER TABLE registry.snapshots
    ADD COLUMN run_id uuid UNIQUE,
    ADD COLUMN labels_joined bigint NOT NULL DEFAULT 0,
    ADD COLUMN labels_unmatched bigint NOT NULL DEFAULT 0;

CREATE TABLE registry.training_requests (
    run_id        uuid PRIMARY KEY,
    model         text NOT NULL REFERENCES registry.models (name),
    spec          jsonb NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'drift', 'performance')),
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX training_requests_model ON registry.training_requests (model, requested_at DESC);

-- Versions are numbered per model, registered once per run, and never change.
CREATE TABLE registry.model_versions (
    model              text NOT NULL REFERENCES registry.models (name),
    version            integer NOT NULL,
    run_id             uuid NOT NULL UNIQUE,
    metrics            jsonb NOT NULL,
    artifact_uri       text NOT NULL,
    artifact_sha256    text NOT NULL,
    artifact_bytes     bigint NOT NULL,
    parity_max_abs_diff double precision NOT NULL,
    parity_max_rel_diff double precision NOT NULL,
    parity_rows        integer NOT NULL,
    reference_profile  jsonb NOT NULL,
    snapshot_id        uuid NOT NULL REFERENCES registry.snapshots (id),
    snapshot_sha256    text NOT NULL,
    rows               bigint NOT NULL,
    trainer            text NOT NULL,
    hyperparameters    jsonb NOT NULL,
    seed               integer NOT NULL,
    code_version       text NOT NULL,
    parent_version     integer,
    trigger            text NOT NULL,
    split              jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, version)
);

CREATE TRIGGER model_versions_immutable
    BEFORE UPDATE OR DELETE ON registry.model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION registry.refuse_change('model versions are immutable');

CREATE TABLE registry.outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_type  text NOT NULL,
    body          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX registry_outbox_unsent ON registry.outbox (id) WHERE sent_at IS NULL;

-- MassTransit saga instances, one row each, the state machine's data as JSON.
CREATE TABLE orchestration.training_runs (
    correlation_id  uuid PRIMARY KEY,
    version         integer NOT NULL,
    current_state   text NOT NULL,
    model           text NOT NULL,
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX training_runs_state ON orchestration.training_runs (current_state, updated_at);

CREATE TABLE orchestration.outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_type  text NOT NULL,
    body          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX orchestration_outbox_unsent ON orchestration.outbox (id) WHERE sent_at IS NULL;
