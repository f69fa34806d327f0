-- History capture (history.md): every accepted change of a ticket's tracked fields, as
-- versions valid over [valid_from, valid_to). Written by the import, in its transaction.
CREATE TABLE IF NOT EXISTS tickets.inc_history (
    ticket_id          text NOT NULL,
    valid_from         timestamptz NOT NULL,
    valid_to           timestamptz,                 -- null while current
    -- The tracked fields (src/ingest/columns.rs marks them), as in tickets.inc.
    normalized_status  text,
    is_actionable      boolean,
    cluster            text,
    region             text,
    assigned_team      text,
    owner              text,
    sla_status         text,
    mttr               integer,
    created_at_service timestamptz,
    closed_at          timestamptz,
    first_seen_at      timestamptz,
    -- The import that recorded it (null for versions a backfill replayed from the archive).
    import_id          bigint REFERENCES tickets.import_meta (id) DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (ticket_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
-- The current version of each ticket (what an import compares with and closes). Not
-- unique: the statement that records a version closes the previous one in the same pass.
CREATE INDEX IF NOT EXISTS inc_history_current_idx ON tickets.inc_history (ticket_id)
    WHERE valid_to IS NULL;
-- The backlog reads the actionable versions that overlap a period: those that end after
-- its start (or never), found by their end.
CREATE INDEX IF NOT EXISTS inc_history_actionable_end_idx
    ON tickets.inc_history ((COALESCE(valid_to, 'infinity'::timestamptz)), valid_from)
    WHERE is_actionable;
-- The newest time recorded (history time never goes backwards) and retention.
CREATE INDEX IF NOT EXISTS inc_history_valid_from_idx ON tickets.inc_history (valid_from);
CREATE INDEX IF NOT EXISTS inc_history_valid_to_idx ON tickets.inc_history (valid_to)
    WHERE valid_to IS NOT NULL;

-- Capture start: nothing before it is known. One row once capture has started.
CREATE TABLE IF NOT EXISTS tickets.history_capture (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    started_at timestamptz NOT NULL
);

-- The upgrade path: a store that already holds tickets gets one version per ticket, valid
-- from the snapshot time of its last successful import (else now), and capture starts there.
DO $$
DECLARE
    last_import tickets.import_meta%ROWTYPE;
    since timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM tickets.inc) AND NOT EXISTS (SELECT 1 FROM tickets.history_capture) THEN
        SELECT * INTO last_import FROM tickets.import_meta
        WHERE outcome = 'imported' ORDER BY id DESC LIMIT 1;
        since := COALESCE(last_import.snapshot_at, last_import.started_at, now());
        INSERT INTO tickets.history_capture (started_at) VALUES (since);
        INSERT INTO tickets.inc_history (ticket_id, valid_from, normalized_status, is_actionable,
            cluster, region, assigned_team, owner, sla_status, mttr, created_at_service,
            closed_at, first_seen_at, import_id)
        SELECT ticket_id, since, normalized_status, is_actionable, cluster, region,
               assigned_team, owner, sla_status, mttr, created_at_service, closed_at,
               first_seen_at, last_import.id
        FROM tickets.inc;
    END IF;
END
$$;

GRANT SELECT ON tickets.inc_history, tickets.history_capture TO dashboard_ro, grafana_ro;
