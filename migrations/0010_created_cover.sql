-- Time travel (timetravel.md): the recorded dashboard's created branch without a heap
-- access. 0009's creation index led to one primary-key probe per version for its fields
-- (342 probes, about a third of the query's execution at a year of hourly history of
-- 21k tickets). A version that branch alone returns is neither actionable (the open
-- branch has those) nor closed in the window (the closed branch has those): of it the
-- payload reads only its creation and closing times, for the daily series, and its
-- cluster and status, for the filters. This index carries those and holds only the
-- versions that are not actionable.
CREATE INDEX IF NOT EXISTS inc_history_created_cover_idx ON tickets.inc_history
    (tickets.history_day(created_at_service), tickets.history_span_class(valid_from, valid_to),
     valid_from)
    INCLUDE (valid_to, created_at_service, ticket_id, normalized_status, cluster, closed_at)
    WHERE created_at_service IS NOT NULL AND is_actionable IS NOT TRUE;
DROP INDEX IF EXISTS tickets.inc_history_created_span_idx;
