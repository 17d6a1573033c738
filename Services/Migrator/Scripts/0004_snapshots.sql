-- Immutable training snapshots: a copy of the labelled rows of a window, in a fixed order, with
-- the SHA-256 of their canonical encoding (Flywheel.Core.Snapshots.SnapshotHash).
CREATE TABLE registry.snapshots (
    id           uuid PRIMARY KEY,
    model        text NOT NULL REFERENCES registry.models (name),
    window_from  timestamptz,
    window_to    timestamptz,
    rows         bigint NOT NULL,
    sha256       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL
);

CREATE TABLE registry.snapshot_rows (
    -- Deferred: the rows are copied first, the snapshot row (with their hash) last, in one transaction.
    snapshot_id  uuid NOT NULL REFERENCES registry.snapshots (id) DEFERRABLE INITIALLY DEFERRED,
    ordinal      bigint NOT NULL,
    event_time   timestamptz,
    features     jsonb NOT NULL,
    target       jsonb,
    PRIMARY KEY (snapshot_id, ordinal)
);

CREATE TRIGGER snapshot_rows_immutable
    BEFORE UPDATE OR DELETE ON registry.snapshot_rows
    FOR EACH STATEMENT EXECUTE FUNCTION registry.refuse_change('snapshots are immutable');

CREATE TRIGGER snapshots_immutable
    BEFORE UPDATE OR DELETE ON registry.snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION registry.refuse_change('snapshots are immutable');
