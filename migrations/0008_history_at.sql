-- Time travel (timetravel.md): the dashboard at a recorded instant t reads the versions
-- valid at t that are actionable, or closed or created in the window. Without these, that
-- is a scan of the whole history (a second at a year of hourly history of 21k tickets).
-- The actionable versions valid at t, by a range containment (valid_to null = current):
CREATE INDEX IF NOT EXISTS inc_history_actionable_range_idx
    ON tickets.inc_history USING gist (tstzrange(valid_from, valid_to))
    WHERE is_actionable;
-- The versions whose closing or creation time falls in a window, checked for t in the
-- index alone (every version of a ticket carries its creation time: a ticket created in
-- the window has all its versions there, and only one is valid at t).
CREATE INDEX IF NOT EXISTS inc_history_closed_at_idx
    ON tickets.inc_history (closed_at) INCLUDE (ticket_id, valid_from, valid_to)
    WHERE closed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS inc_history_created_at_idx
    ON tickets.inc_history (created_at_service) INCLUDE (ticket_id, valid_from, valid_to)
    WHERE created_at_service IS NOT NULL;
