-- reporting.fn_inc_dashboard: the dashboard payload of the product specification,
-- computed in SQL as one json value. BENCHMARK BASELINE ONLY: the service computes the
-- same payload in Rust; this function exists to compare against it.
--
-- Load:   psql -h 127.0.0.1 -U postgres -d <db> -v ON_ERROR_STOP=1 -f bench/fn_inc_dashboard.sql
-- Call:   SELECT reporting.fn_inc_dashboard(ARRAY['Westlands'], NULL, 'week', NULL, NULL,
--                                           '2026-06-16T10:00:00+03:00');
--
-- Creates the schema `reporting`, this function and one inlined helper,
-- reporting.fn_inc_dashboard_ts(timestamptz) (the payload's timestamp format). Needs
-- PostgreSQL 14+ and the migrations under migrations/ applied.
--
-- Conventions (kept consistent everywhere in the payload):
--   * Timestamps: RFC 3339 in EAT with the literal "+03:00" offset. Fractional seconds
--     are printed only when non-zero, as 3 digits when the value is whole milliseconds,
--     else 6 digits (PostgreSQL keeps microseconds). This is exactly what the service's
--     eat::rfc3339 (chrono SecondsFormat::AutoSi) prints, e.g. "2026-06-16T07:15:02+03:00",
--     "2026-06-16T07:15:02.250+03:00", "2026-06-16T07:15:02.250001+03:00".
--   * Every rounding is numeric round() (half away from zero) on exact numeric values
--     (epoch differences are numeric since PostgreSQL 14), never on floats. The rounded
--     values are emitted as numerics, so they keep their scale ("closure_rate": 0.2000,
--     "hours_open": 25.0): equal as JSON numbers to the service's, not byte-identical.
--   * Ordering "by ticket_id" and "cluster ascending" use byte order (COLLATE "C"), as a
--     Rust String sort does; by_status keys are emitted in byte order too.
--   * Bad input raises SQLSTATE 22023 (invalid_parameter_value) whose MESSAGE
--     ("invalid parameter <name>") names the parameter and whose DETAIL says why
--     (the HTTP layer's {"error","detail"}).
--   * p_from / p_to are timestamptz: a bare date must be passed as EAT midnight
--     ('2026-06-15T00:00:00+03:00'); '2026-06-15'::timestamptz would use the session
--     TimeZone. Nothing else in the function depends on the session TimeZone.
--   * Filters: NULL elements and blank elements are dropped, the rest are trimmed; a NULL
--     or (then) empty array means "all". Matching is lower(column) = ANY(lower(values)).
--     filters.cluster / filters.status echo the trimmed values in the order given.
--   * by_status: a ticket with a NULL normalized_status is counted under the key "UNKNOWN".
--   * freshness uses every import_meta row and the whole store (not filtered, not cut
--     at as_of); stale = last_checked_at IS NULL OR last_checked_at < as_of - 3 hours.

CREATE SCHEMA IF NOT EXISTS reporting;

-- Helper: one timestamp as the payload prints it (see the conventions above). NULL -> NULL.
-- A single expression without FROM (and not STRICT), so the planner inlines it.
CREATE OR REPLACE FUNCTION reporting.fn_inc_dashboard_ts(t timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT to_char(t AT TIME ZONE 'Africa/Nairobi', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE
               WHEN to_char(t AT TIME ZONE 'Africa/Nairobi', 'US') = '000000' THEN ''
               WHEN right(to_char(t AT TIME ZONE 'Africa/Nairobi', 'US'), 3) = '000'
                   THEN '.' || to_char(t AT TIME ZONE 'Africa/Nairobi', 'MS')
               ELSE '.' || to_char(t AT TIME ZONE 'Africa/Nairobi', 'US')
           END
        || '+03:00'
$fn$;

CREATE OR REPLACE FUNCTION reporting.fn_inc_dashboard(
    p_cluster          text[],
    p_status           text[],
    p_window           text,
    p_from             timestamptz,
    p_to               timestamptz,
    p_as_of            timestamptz DEFAULT now(),
    p_sla_target_hours numeric     DEFAULT 24
)
RETURNS json
LANGUAGE plpgsql
STABLE
AS $fn$
DECLARE
    c_tz        constant text := 'Africa/Nairobi';
    v_kind      text := lower(btrim(coalesce(p_window, 'today')));
    v_as_of     timestamptz := coalesce(p_as_of, now());
    v_local     timestamp;          -- as_of as EAT wall-clock time
    v_from      timestamptz;        -- window [v_from, v_to)
    v_to        timestamptz;
    v_t_secs    numeric;            -- SLA target in seconds
    v_clusters  text[];             -- trimmed, non-blank, as given (echoed)
    v_statuses  text[];
    v_cl_lc     text[];             -- lower-cased for matching; NULL = no filter
    v_st_lc     text[];
    v_result    json;
BEGIN
    ---------------------------------------------------------------- validation
    IF p_sla_target_hours IS NULL OR p_sla_target_hours < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'invalid parameter p_sla_target_hours',
            DETAIL  = 'the SLA target must be a non-negative number of hours';
    END IF;
    v_t_secs := p_sla_target_hours * 3600;
    v_local  := v_as_of AT TIME ZONE c_tz;

    IF v_kind IN ('today', 'week', 'month') THEN
        IF p_from IS NOT NULL OR p_to IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'invalid parameter ' || CASE WHEN p_from IS NOT NULL THEN 'from' ELSE 'to' END,
                DETAIL  = format('from/to are only accepted with window=custom (window=%s)', v_kind);
        END IF;
        IF v_kind = 'today' THEN
            v_from := date_trunc('day', v_local) AT TIME ZONE c_tz;
            v_to   := (date_trunc('day', v_local) + interval '1 day') AT TIME ZONE c_tz;
        ELSIF v_kind = 'week' THEN   -- date_trunc('week') = ISO Monday
            v_from := date_trunc('week', v_local) AT TIME ZONE c_tz;
            v_to   := (date_trunc('week', v_local) + interval '7 days') AT TIME ZONE c_tz;
        ELSE
            v_from := date_trunc('month', v_local) AT TIME ZONE c_tz;
            v_to   := (date_trunc('month', v_local) + interval '1 month') AT TIME ZONE c_tz;
        END IF;
    ELSIF v_kind = 'custom' THEN
        IF p_from IS NULL OR p_to IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'invalid parameter ' || CASE WHEN p_from IS NULL THEN 'from' ELSE 'to' END,
                DETAIL  = 'window=custom requires both from and to';
        END IF;
        IF p_to <= p_from THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'invalid parameter to',
                DETAIL  = 'to must be later than from';
        END IF;
        IF p_to - p_from > interval '366 days' THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'invalid parameter to',
                DETAIL  = 'the custom window spans more than 366 days';
        END IF;
        v_from := p_from;
        v_to   := p_to;
    ELSE
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'invalid parameter window',
            DETAIL  = format('unknown window %L (expected today, week, month or custom)', p_window);
    END IF;

    ---------------------------------------------------------------- filters
    v_clusters := ARRAY(SELECT btrim(x) FROM unnest(p_cluster) WITH ORDINALITY AS u(x, n)
                        WHERE btrim(x) <> '' ORDER BY n);
    v_statuses := ARRAY(SELECT btrim(x) FROM unnest(p_status) WITH ORDINALITY AS u(x, n)
                        WHERE btrim(x) <> '' ORDER BY n);
    IF cardinality(v_clusters) > 0 THEN
        v_cl_lc := ARRAY(SELECT lower(x) FROM unnest(v_clusters) AS x);
    END IF;
    IF cardinality(v_statuses) > 0 THEN
        v_st_lc := ARRAY(SELECT lower(x) FROM unnest(v_statuses) AS x);
    END IF;

    ---------------------------------------------------------------- the payload
    WITH
    -- One pass over the tickets that can matter: the open set, the closed set and the
    -- tickets created in the window (for daily.created), all after the filters.
    base AS (
        SELECT i.ticket_id, i.normalized_status, i.raw_status, i.cluster, i.region,
               i.location_name, i.assigned_team, i.owner, i.sla_status, i.mttr,
               i.created_at_service, i.closed_at, i.first_seen_at,
               i.latitude, i.longitude, i.geo_source,
               (i.is_actionable IS TRUE)                                     AS in_open,
               (i.closed_at >= v_from AND i.closed_at < v_to) IS TRUE        AS in_closed,
               (i.created_at_service >= v_from
                    AND i.created_at_service < v_to) IS TRUE                 AS in_created,
               coalesce(i.created_at_service, i.first_seen_at)               AS sla_start
        FROM tickets.inc AS i
        WHERE (i.is_actionable
               OR (i.closed_at >= v_from AND i.closed_at < v_to)
               OR (i.created_at_service >= v_from AND i.created_at_service < v_to))
          AND (v_cl_lc IS NULL OR lower(i.cluster) = ANY (v_cl_lc))
          AND (v_st_lc IS NULL OR lower(i.normalized_status) = ANY (v_st_lc))
    ),
    t AS (
        SELECT b.*, d.open_secs,
               CASE
                   WHEN NOT b.in_open                THEN NULL
                   WHEN b.sla_start IS NULL          THEN 'unknown'
                   WHEN d.open_secs >= v_t_secs        THEN 'breached'
                   WHEN d.open_secs >= 0.75 * v_t_secs THEN 'at_risk'
                   ELSE 'within'
               END AS sla_state,
               CASE
                   WHEN NOT b.in_closed THEN NULL
                   WHEN lower(btrim(b.sla_status)) = 'met'      THEN 'met'
                   WHEN lower(btrim(b.sla_status)) = 'breached' THEN 'breached'
                   ELSE 'unknown'
               END AS sla_closed,
               CASE WHEN b.latitude IS NOT NULL AND b.longitude IS NOT NULL THEN
                   json_build_object('type', 'Point',
                                     'coordinates', json_build_array(b.longitude, b.latitude))
               END AS geometry
        FROM base AS b
        CROSS JOIN LATERAL (
            -- exact seconds (numeric), never below 0; NULL without a start
            -- (greatest() ignores NULLs, hence the CASE)
            SELECT CASE WHEN b.sla_start IS NOT NULL THEN
                       greatest(extract(epoch FROM v_as_of) - extract(epoch FROM b.sla_start), 0)
                   END AS open_secs
        ) AS d
    ),
    counts AS (
        SELECT count(*) FILTER (WHERE in_open)                              AS open_count,
               count(*) FILTER (WHERE in_closed)                            AS closed_count,
               count(*) FILTER (WHERE in_open AND in_closed)                AS inconsistent,
               count(*) FILTER (WHERE sla_state = 'within')                 AS s_within,
               count(*) FILTER (WHERE sla_state = 'at_risk')                AS s_at_risk,
               count(*) FILTER (WHERE sla_state = 'breached')               AS s_breached,
               count(*) FILTER (WHERE sla_state = 'unknown')                AS s_unknown,
               count(*) FILTER (WHERE sla_closed = 'met')                   AS c_met,
               count(*) FILTER (WHERE sla_closed = 'breached')              AS c_breached,
               count(*) FILTER (WHERE sla_closed = 'unknown')               AS c_unknown,
               round(avg(mttr) FILTER (WHERE in_closed), 1)                 AS avg_mttr,
               coalesce(json_agg(json_build_object(
                   'type', 'Feature',
                   'id', ticket_id,
                   'geometry', geometry,
                   'properties', json_build_object(
                       'ticket_id', ticket_id,
                       'normalized_status', normalized_status,
                       'raw_status', raw_status,
                       'cluster', cluster,
                       'region', region,
                       'location_name', location_name,
                       'assigned_team', assigned_team,
                       'owner', owner,
                       'created_at_service', reporting.fn_inc_dashboard_ts(created_at_service),
                       'first_seen_at', reporting.fn_inc_dashboard_ts(first_seen_at),
                       'hours_open', round(open_secs / 3600, 1),
                       'sla_state', sla_state,
                       'geo_source', geo_source))
                   ORDER BY ticket_id COLLATE "C") FILTER (WHERE in_open), '[]'::json)
                                                                            AS open_features,
               coalesce(json_agg(json_build_object(
                   'type', 'Feature',
                   'id', ticket_id,
                   'geometry', geometry,
                   'properties', json_build_object(
                       'ticket_id', ticket_id,
                       'normalized_status', normalized_status,
                       'raw_status', raw_status,
                       'cluster', cluster,
                       'region', region,
                       'location_name', location_name,
                       'assigned_team', assigned_team,
                       'owner', owner,
                       'created_at_service', reporting.fn_inc_dashboard_ts(created_at_service),
                       'closed_at', reporting.fn_inc_dashboard_ts(closed_at),
                       'mttr_minutes', mttr,
                       'sla_status', sla_closed,
                       'geo_source', geo_source))
                   ORDER BY ticket_id COLLATE "C") FILTER (WHERE in_closed), '[]'::json)
                                                                            AS closed_features
        FROM t
    ),
    by_status AS (
        SELECT coalesce(json_object_agg(s, n ORDER BY s COLLATE "C") FILTER (WHERE which = 'open'),
                        '{}'::json) AS open_j,
               coalesce(json_object_agg(s, n ORDER BY s COLLATE "C") FILTER (WHERE which = 'closed'),
                        '{}'::json) AS closed_j
        FROM (
            SELECT 'open' AS which, coalesce(normalized_status, 'UNKNOWN') AS s, count(*) AS n
            FROM t WHERE in_open GROUP BY 2
            UNION ALL
            SELECT 'closed', coalesce(normalized_status, 'UNKNOWN'), count(*)
            FROM t WHERE in_closed GROUP BY 2
        ) AS g
    ),
    by_cluster AS (
        SELECT coalesce(json_agg(json_build_object(
                   'cluster', cluster, 'open', n_open, 'closed', n_closed,
                   'open_breached', n_open_breached)
                   ORDER BY n_open DESC, cluster COLLATE "C" ASC NULLS LAST), '[]'::json) AS j
        FROM (
            SELECT cluster COLLATE "C" AS cluster,
                   count(*) FILTER (WHERE in_open)                          AS n_open,
                   count(*) FILTER (WHERE in_closed)                        AS n_closed,
                   count(*) FILTER (WHERE sla_state = 'breached')           AS n_open_breached
            FROM t
            WHERE in_open OR in_closed
            GROUP BY cluster COLLATE "C"
        ) AS g
    ),
    daily AS (
        -- every EAT day the window [v_from, v_to) touches
        SELECT json_agg(json_build_object(
                   'date', to_char(d.day, 'YYYY-MM-DD'),
                   'created', coalesce(cr.n, 0),
                   'closed', coalesce(cl.n, 0))
                   ORDER BY d.day) AS j
        FROM generate_series(date_trunc('day', v_from AT TIME ZONE c_tz),
                             date_trunc('day', (v_to - interval '1 microsecond') AT TIME ZONE c_tz),
                             interval '1 day') AS d(day)
        LEFT JOIN (
            SELECT date_trunc('day', created_at_service AT TIME ZONE c_tz) AS day, count(*) AS n
            FROM t WHERE in_created GROUP BY 1
        ) AS cr ON cr.day = d.day
        LEFT JOIN (
            SELECT date_trunc('day', closed_at AT TIME ZONE c_tz) AS day, count(*) AS n
            FROM t WHERE in_closed GROUP BY 1
        ) AS cl ON cl.day = d.day
    ),
    last_check AS (
        SELECT m.source_key, m.etag, m.snapshot_at, m.truncated, m.finished_at
        FROM tickets.import_meta AS m
        WHERE m.outcome IN ('imported', 'unchanged')
        ORDER BY m.finished_at DESC, m.id DESC
        LIMIT 1
    ),
    freshness AS MATERIALIZED (
        SELECT (SELECT max(m.finished_at) FROM tickets.import_meta AS m
                WHERE m.outcome = 'imported' AND m.inserted + m.updated > 0) AS last_import_at,
               (SELECT finished_at FROM last_check)                          AS last_checked_at,
               (SELECT max(i.source_updated_at) FROM tickets.inc AS i)       AS content_max
    )
    SELECT json_build_object(
        'window', json_build_object(
            'kind', v_kind,
            'from', reporting.fn_inc_dashboard_ts(v_from),
            'to', reporting.fn_inc_dashboard_ts(v_to),
            'tz', c_tz,
            'as_of', reporting.fn_inc_dashboard_ts(v_as_of)),
        'filters', json_build_object(
            'cluster', to_json(v_clusters),
            'status', to_json(v_statuses)),
        'open', json_build_object('type', 'FeatureCollection', 'features', c.open_features),
        'closed', json_build_object('type', 'FeatureCollection', 'features', c.closed_features),
        'metrics', json_build_object(
            'open_count', c.open_count,
            'closed_count', c.closed_count,
            'sla', json_build_object(
                'open', json_build_object('within', c.s_within, 'at_risk', c.s_at_risk,
                                          'breached', c.s_breached, 'unknown', c.s_unknown),
                'closed', json_build_object('met', c.c_met, 'breached', c.c_breached,
                                            'unknown', c.c_unknown)),
            'by_status', json_build_object('open', bs.open_j, 'closed', bs.closed_j),
            'by_cluster', bc.j,
            'closure_rate', CASE WHEN c.open_count + c.closed_count > 0 THEN
                                round(c.closed_count::numeric / (c.open_count + c.closed_count), 4)
                            END,
            'daily', dl.j,
            'avg_mttr_minutes', c.avg_mttr,
            'inconsistent', c.inconsistent),
        'freshness', json_build_object(
            'last_import_at', reporting.fn_inc_dashboard_ts(f.last_import_at),
            'last_checked_at', reporting.fn_inc_dashboard_ts(f.last_checked_at),
            'source_key', lc.source_key,
            'source_etag', lc.etag,
            'snapshot_at', reporting.fn_inc_dashboard_ts(lc.snapshot_at),
            'truncated', lc.truncated,
            'content_max_updated_at', reporting.fn_inc_dashboard_ts(f.content_max),
            'content_lag_hours', round((extract(epoch FROM v_as_of)
                                        - extract(epoch FROM f.content_max)) / 3600, 1),
            'stale', (f.last_checked_at IS NULL
                      OR f.last_checked_at < v_as_of - interval '3 hours'))
    )
    INTO v_result
    FROM counts AS c
    CROSS JOIN by_status AS bs
    CROSS JOIN by_cluster AS bc
    CROSS JOIN daily AS dl
    CROSS JOIN freshness AS f
    LEFT JOIN last_check AS lc ON true;

    RETURN v_result;
END
$fn$;

COMMENT ON FUNCTION reporting.fn_inc_dashboard(text[], text[], text, timestamptz, timestamptz, timestamptz, numeric)
    IS 'Benchmark baseline: the dashboard.md payload as one json value (the service computes it in Rust).';
