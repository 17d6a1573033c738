-- Retraining and rollouts: every retraining trigger and what was decided about it, and the
-- rollout state machine's instances (canary analyses included, in their data).

-- One row per trigger (drift report, degraded-performance report, schedule occurrence, operator
-- request), started or skipped, with the reason. The id is the trigger's own id, so a redelivered
-- trigger is decided once.
CREATE TABLE orchestration.retraining_decisions (
    id            uuid PRIMARY KEY,
    model         text NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'drift', 'performance')),
    decision      text NOT NULL CHECK (decision IN ('started', 'skipped')),
    reason        text NOT NULL,
    run_id        uuid UNIQUE,
    parent_version integer,
    requested_by  text NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
    at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((decision = 'started') = (run_id IS NOT NULL))
);
CREATE INDEX retraining_decisions_model ON orchestration.retraining_decisions (model, at DESC);

-- MassTransit saga instances of the rollout state machine (see PostgresSagaRepository).
CREATE TABLE orchestration.rollouts (
    correlation_id  uuid PRIMARY KEY,
    version         integer NOT NULL,
    current_state   text NOT NULL,
    model           text NOT NULL,
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollouts_model ON orchestration.rollouts (model, created_at DESC);
CREATE INDEX rollouts_state ON orchestration.rollouts (current_state);

-- Failed predictions, for the error-rate check of canary analysis: the prediction log holds
-- only answered requests. Written by whoever fails a request for a known model and version.
CREATE TABLE inference.prediction_errors (
    at        timestamptz NOT NULL DEFAULT now(),
    model     text NOT NULL,
    version   integer NOT NULL,
    shadow    boolean NOT NULL DEFAULT false,
    status    integer NOT NULL,
    error     text NOT NULL,
    caller    text
);
CREATE INDEX prediction_errors_by_model_time ON inference.prediction_errors (model, at);
