-- Models and their feature schemas (registry), the API keys that may change them, and the
-- append-only audit log of every change.
CREATE TABLE registry.models (
    name        text PRIMARY KEY,
    task        text NOT NULL CHECK (task IN ('binary', 'multiclass', 'regression')),
    entity_key  text,
    features    jsonb NOT NULL,
    target      jsonb NOT NULL,
    policy      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL
);

CREATE TABLE registry.api_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    -- SHA-256 of the key: the key itself is never stored.
    key_hash    bytea NOT NULL UNIQUE,
    roles       text[] NOT NULL,
    -- The models a predictor key may call; NULL means every model.
    models      text[],
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE registry.audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL,
    detail      jsonb
);

-- Guards tables whose rows may be added but never changed; the trigger's argument says why.
CREATE FUNCTION registry.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END;
$$;

-- Append-only: the log can be read and added to, never changed.
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON registry.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION registry.refuse_change('the audit log is append-only');
