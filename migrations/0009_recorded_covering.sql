-- Time travel (timetravel.md), the dashboard at a recorded instant t: its branches read
-- only index pages. Migration 0008's branches found the versions by index and then read
-- each one from the heap (random reads of a history far larger than the buffers: 128 ms
-- of a 138 ms miss at a year of hourly history of 21k tickets).

-- A version's span class: -1 while current, else the bucket of valid_to - valid_from
-- among doubling lengths (0: under an hour, k: [2^(k-1) h, 2^k h), the last unbounded).
-- A version of class k valid at t started after t - history_spans()[k + 1], so the open
-- versions at t are, per class, one short range of valid_from, about half of which are
-- valid at t (an interval lookup in a btree).
CREATE OR REPLACE FUNCTION tickets.history_spans() RETURNS interval[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['1 hour', '2 hours', '4 hours', '8 hours', '16 hours', '32 hours',
                 '64 hours', '128 hours', '256 hours', '512 hours', '1024 hours',
                 '2048 hours', '4096 hours', '8192 hours', '16384 hours', '32768 hours',
                 '65536 hours']::interval[];
CREATE OR REPLACE FUNCTION tickets.history_span_class(valid_from timestamptz, valid_to timestamptz)
    RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN valid_to IS NULL THEN -1
                ELSE width_bucket(valid_to - valid_from, tickets.history_spans()) END;

-- The actionable versions by span class and start, carrying every tracked field: an
-- index-only scan (the visibility map is kept by autovacuum).
CREATE INDEX IF NOT EXISTS inc_history_open_span_idx ON tickets.inc_history
    (tickets.history_span_class(valid_from, valid_to), valid_from)
    INCLUDE (valid_to, ticket_id, normalized_status, is_actionable, cluster, region,
             assigned_team, owner, sla_status, mttr, created_at_service, closed_at,
             first_seen_at)
    WHERE is_actionable;
-- The versions closed in a window, with every tracked field (replaces 0008's index of
-- the same key, which carried only the validity).
CREATE INDEX IF NOT EXISTS inc_history_closed_cover_idx ON tickets.inc_history (closed_at)
    INCLUDE (valid_from, valid_to, ticket_id, normalized_status, is_actionable, cluster,
             region, assigned_team, owner, sla_status, mttr, created_at_service,
             first_seen_at)
    WHERE closed_at IS NOT NULL;
DROP INDEX IF EXISTS tickets.inc_history_closed_at_idx;
-- The versions created on a day (UTC days since 2000), by span class and start: the
-- versions valid at t of the tickets created in a window, per day and class one short
-- range (replaces 0008's index by creation time, which held every version of each
-- ticket and was scanned whole for the window: 70k entries for 400 tickets at a year of
-- hourly history). Their fields are read by primary key: every version carries its
-- creation time, so carrying them here would copy the table.
CREATE OR REPLACE FUNCTION tickets.history_day(at timestamptz) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN extract(day FROM at - '2000-01-01T00:00:00Z'::timestamptz)::integer;
CREATE INDEX IF NOT EXISTS inc_history_created_span_idx ON tickets.inc_history
    (tickets.history_day(created_at_service), tickets.history_span_class(valid_from, valid_to),
     valid_from)
    INCLUDE (valid_to, created_at_service, ticket_id)
    WHERE created_at_service IS NOT NULL;
DROP INDEX IF EXISTS tickets.inc_history_created_at_idx;
-- The GiST index of 0008 served only the open branch; every import paid for it.
DROP INDEX IF EXISTS tickets.inc_history_actionable_range_idx;
