-- Data ingestion: each upload or event batch, the rows it accepted (the offline store, keyed by
-- entity and event time), and the rows it rejected (the quarantine, with their errors).
CREATE TABLE registry.ingestions (
    id           uuid PRIMARY KEY,
    model        text NOT NULL REFERENCES registry.models (name),
    format       text NOT NULL,
    state        text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    accepted     bigint NOT NULL DEFAULT 0,
    rejected     bigint NOT NULL DEFAULT 0,
    duplicates   bigint NOT NULL DEFAULT 0,
    report       jsonb,
    error        text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    created_by   text NOT NULL
);

CREATE TABLE registry.observations (
    model         text NOT NULL REFERENCES registry.models (name),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    event_id      text,
    entity_id     text,
    event_time    timestamptz,
    features      jsonb NOT NULL,
    target        jsonb,
    ingestion_id  uuid NOT NULL REFERENCES registry.ingestions (id),
    PRIMARY KEY (model, id)
);

-- An event id is accepted once per model; later copies are counted as duplicates and dropped.
CREATE UNIQUE INDEX observations_event_id ON registry.observations (model, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX observations_entity_time ON registry.observations (model, entity_id, event_time);

CREATE TABLE registry.quarantine (
    ingestion_id  uuid NOT NULL REFERENCES registry.ingestions (id),
    line          bigint NOT NULL,
    row_values    jsonb NOT NULL,
    errors        jsonb NOT NULL,
    PRIMARY KEY (ingestion_id, line)
);
