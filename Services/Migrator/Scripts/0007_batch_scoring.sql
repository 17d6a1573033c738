-- Batch predictions: score a snapshot's rows or an uploaded CSV with one model version, off the
-- serving path. The registry records the request (and its ScoreBatch command in the outbox); the
-- trainer that scores it records progress and the result here, so the API shows them as they go.
CREATE TABLE registry.batch_predictions (
    job_id         uuid PRIMARY KEY,
    model          text NOT NULL,
    version        integer NOT NULL,
    -- Exactly one input: a snapshot of the model's rows, or an uploaded CSV in the data container.
    snapshot_id    uuid REFERENCES registry.snapshots (id),
    input_blob     text,
    state          text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    rows_total     bigint CHECK (rows_total >= 0),
    rows_done      bigint NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    result_uri     text,
    result_sha256  text,
    result_bytes   bigint,
    error          text,
    requested_by   text NOT NULL,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    FOREIGN KEY (model, version) REFERENCES registry.model_versions (model, version),
    CHECK ((snapshot_id IS NULL) <> (input_blob IS NULL)),
    CHECK (state <> 'succeeded' OR (result_uri IS NOT NULL AND result_sha256 IS NOT NULL AND result_bytes IS NOT NULL))
);

CREATE INDEX batch_predictions_by_model ON registry.batch_predictions (model, requested_at DESC);
