-- The unfiltered backlog of each EAT hour that can no longer change (src/history/sealed.rs):
-- the point of the bucket (hour_end - 1 hour, hour_end], for the SLA target it was
-- computed with. A cache of inc_history: dropping its rows only makes the backlog slower.
CREATE TABLE IF NOT EXISTS tickets.backlog_hourly (
    hour_end         timestamptz PRIMARY KEY,
    sla_target_hours double precision NOT NULL,
    open             bigint NOT NULL,
    within           bigint NOT NULL,
    at_risk          bigint NOT NULL,
    breached         bigint NOT NULL,
    unknown          bigint NOT NULL,
    entered          bigint NOT NULL,
    "left"           bigint NOT NULL
);

-- The backlog of some clusters reads only their actionable versions (history/read.rs).
CREATE INDEX IF NOT EXISTS inc_history_actionable_cluster_end_idx
    ON tickets.inc_history (lower(cluster), (COALESCE(valid_to, 'infinity'::timestamptz)), valid_from)
    WHERE is_actionable;

GRANT SELECT ON tickets.backlog_hourly TO dashboard_ro, grafana_ro;
