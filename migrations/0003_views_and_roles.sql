-- The open tickets with the derived SLA of dashboard.md (target 24 h, at risk from 75 %),
-- for people who query SQL directly. The service computes the same in Rust.
CREATE OR REPLACE VIEW tickets.inc_open_sla AS
SELECT i.ticket_id, i.normalized_status, i.raw_status, i.cluster, i.region, i.location_name,
       i.assigned_team, i.owner, i.created_at_service, i.first_seen_at,
       COALESCE(i.created_at_service, i.first_seen_at) AS sla_start,
       round(GREATEST(extract(epoch FROM now() - COALESCE(i.created_at_service, i.first_seen_at)), 0) / 3600.0, 1)
           AS hours_open,
       CASE
           WHEN COALESCE(i.created_at_service, i.first_seen_at) IS NULL THEN 'unknown'
           WHEN now() - COALESCE(i.created_at_service, i.first_seen_at) >= interval '24 hours' THEN 'breached'
           WHEN now() - COALESCE(i.created_at_service, i.first_seen_at) >= interval '18 hours' THEN 'at_risk'
           ELSE 'within'
       END AS sla_state,
       i.latitude, i.longitude, i.geom, i.geo_source
FROM tickets.inc i
WHERE i.is_actionable;

-- Read-only roles for the dashboard and Grafana (cluster-wide, so created only if missing;
-- two databases migrating at once may race on the CREATE, hence the handler).
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dashboard_ro', 'grafana_ro'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA tickets TO %I', r);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA tickets TO %I', r);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA tickets GRANT SELECT ON TABLES TO %I', r);
    END LOOP;
END
$$;
