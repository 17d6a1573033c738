-- Feedback: labels for served predictions, sent by prediction id or by entity and time, stored
-- as they arrive and joined to the prediction log when read. The log is written asynchronously,
-- so a label may land before its prediction: it is kept, and the join finds the prediction later.

CREATE TABLE inference.feedback (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model          text NOT NULL REFERENCES registry.models (name),
    -- Exactly one way to name the prediction: its id, or the entity and the time the label became true.
    prediction_id  uuid,
    entity_id      text,
    event_time     timestamptz,
    label          jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    -- The calling key's name (the gateway's X-Flywheel-Caller, as in inference.predictions.caller).
    caller         text,
    CHECK ((prediction_id IS NULL) <> (entity_id IS NULL)),
    CHECK ((entity_id IS NULL) = (event_time IS NULL))
);

-- A label is acknowledged once: a later one for the same prediction (or entity and time) is a
-- duplicate and the first stays, so nothing a caller was told is stored ever changes under it.
CREATE UNIQUE INDEX feedback_by_prediction ON inference.feedback (model, prediction_id) WHERE prediction_id IS NOT NULL;
CREATE UNIQUE INDEX feedback_by_entity_time ON inference.feedback (model, entity_id, event_time) WHERE entity_id IS NOT NULL;

-- The entity+time join looks for the entity's latest prediction at or before the label's time.
CREATE INDEX predictions_by_entity_time ON inference.predictions (model, entity_id, at) WHERE entity_id IS NOT NULL;

-- Each labelled, served (non-shadow) prediction once, with the first label received for it. A
-- shadow's answer never reached the caller, so a label cannot be about it. The log may hold a
-- prediction twice (a COPY retried after its commit), hence one row per prediction id; a
-- prediction named by both an id label and an entity+time label keeps the earlier-received one.
CREATE VIEW inference.labelled_predictions AS
SELECT DISTINCT ON (j.model, j.prediction_id)
    j.model, j.version, j.shadow, j.prediction_id, j.at, j.entity_id, j.inputs, j.outputs, j.label, j.labelled_at, j.feedback_id
FROM (
    SELECT f.model, p.version, p.shadow, p.prediction_id, p.at, p.entity_id, p.inputs, p.outputs,
           f.label, f.received_at AS labelled_at, f.id AS feedback_id
    FROM inference.feedback f
    CROSS JOIN LATERAL (
        SELECT p.* FROM inference.predictions p
        WHERE p.prediction_id = f.prediction_id AND p.model = f.model AND NOT p.shadow
        LIMIT 1) p
    WHERE f.prediction_id IS NOT NULL
    UNION ALL
    SELECT f.model, p.version, p.shadow, p.prediction_id, p.at, p.entity_id, p.inputs, p.outputs,
           f.label, f.received_at AS labelled_at, f.id AS feedback_id
    FROM inference.feedback f
    CROSS JOIN LATERAL (
        SELECT p.* FROM inference.predictions p
        WHERE p.model = f.model AND p.entity_id = f.entity_id AND p.at <= f.event_time AND NOT p.shadow
        ORDER BY p.at DESC, p.prediction_id DESC
        LIMIT 1) p
    WHERE f.entity_id IS NOT NULL
) j
ORDER BY j.model, j.prediction_id, j.labelled_at, j.feedback_id;

-- Service identities get their rights from the migrator's PrincipalGrants (every table and view
-- of the Flywheel schemas, including ones created here, through its default privileges).
