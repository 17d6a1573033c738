-- Serving: which versions of each model take traffic and how it is split, the history of every
-- change, per-model serving settings, per-key limits, and the prediction log.

-- How a model serves: micro-batching, prediction cache and the unknown-category policy.
-- Empty means the defaults (see Flywheel.Core.Serving.ServingSettings).
ALTER TABLE registry.models ADD COLUMN serving jsonb NOT NULL DEFAULT '{}'::jsonb;

-- One row per deployed model: the current traffic. Versions must exist and belong to the model.
CREATE TABLE registry.deployments (
    model            text PRIMARY KEY REFERENCES registry.models (name),
    -- Increments on every change; the data plane uses it to tell a new deployment from an old one.
    revision         bigint NOT NULL,
    production       integer NOT NULL,
    canary_version   integer,
    canary_percent   double precision CHECK (canary_percent > 0 AND canary_percent < 100),
    auto_promote     boolean NOT NULL DEFAULT false,
    shadow_version   integer,
    shadow_percent   double precision CHECK (shadow_percent > 0 AND shadow_percent <= 100),
    -- 'entity_id', 'header:<name>' or NULL (no stickiness: each request is assigned afresh).
    sticky_by        text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL,
    reason           text,
    FOREIGN KEY (model, production) REFERENCES registry.model_versions (model, version),
    FOREIGN KEY (model, canary_version) REFERENCES registry.model_versions (model, version),
    FOREIGN KEY (model, shadow_version) REFERENCES registry.model_versions (model, version),
    CHECK ((canary_version IS NULL) = (canary_percent IS NULL)),
    CHECK ((shadow_version IS NULL) = (shadow_percent IS NULL)),
    CHECK (canary_version IS DISTINCT FROM production)
);

-- Every traffic change, append-only: who, what, when, why, and the deployment before and after.
CREATE TABLE registry.deployment_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model       text NOT NULL REFERENCES registry.models (name),
    revision    bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    -- deploy | rollback | promote | abort
    action      text NOT NULL,
    reason      text,
    deployment  jsonb NOT NULL,
    previous    jsonb,
    UNIQUE (model, revision)
);

CREATE TRIGGER deployment_history_append_only
    BEFORE UPDATE OR DELETE ON registry.deployment_history
    FOR EACH STATEMENT EXECUTE FUNCTION registry.refuse_change('the deployment history is append-only');

-- The data plane (gateway, inference workers) listens on this channel and reloads the model's
-- deployment, so traffic changes reach every replica without a restart; whoever writes the row
-- (registry or orchestrator) notifies by writing it.
CREATE FUNCTION registry.notify_deployment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flywheel_deployments', NEW.model);
    RETURN NULL;
END;
$$;

CREATE TRIGGER deployments_notify
    AFTER INSERT OR UPDATE ON registry.deployments
    FOR EACH ROW EXECUTE FUNCTION registry.notify_deployment();

-- Per-key limits the gateway enforces; NULL means the gateway's defaults.
ALTER TABLE registry.api_keys
    ADD COLUMN requests_per_second integer CHECK (requests_per_second > 0),
    ADD COLUMN daily_quota bigint CHECK (daily_quota > 0),
    ADD COLUMN created_by text;

-- Gateways cache keys; a revocation or change reaches them at once through this channel.
CREATE FUNCTION registry.notify_api_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flywheel_api_keys', encode(NEW.key_hash, 'hex'));
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_notify
    AFTER UPDATE ON registry.api_keys
    FOR EACH ROW EXECUTE FUNCTION registry.notify_api_key();

-- The prediction log: every prediction the inference workers serve (shadow ones flagged),
-- appended in batches with binary COPY. Partitioned by day so old days drop cheaply; the
-- workers create each day's partition ahead of time and the default partition catches the rest.
CREATE TABLE inference.predictions (
    prediction_id  uuid NOT NULL,
    at             timestamptz NOT NULL,
    model          text NOT NULL,
    version        integer NOT NULL,
    shadow         boolean NOT NULL DEFAULT false,
    entity_id      text,
    -- Features as served (PII hashed or dropped) and the outputs.
    inputs         jsonb NOT NULL,
    outputs        jsonb NOT NULL,
    latency_us     integer NOT NULL,
    batch_size     integer NOT NULL,
    caller         text
) PARTITION BY RANGE (at);

CREATE TABLE inference.predictions_default PARTITION OF inference.predictions DEFAULT;

CREATE INDEX predictions_by_id ON inference.predictions (prediction_id);
CREATE INDEX predictions_by_model_time ON inference.predictions (model, at);
