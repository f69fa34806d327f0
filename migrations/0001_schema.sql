-- The store: PostGIS, the `tickets` schema and the INC / CRQ tables.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS tickets;

-- One row per ticket. `raw` is the source of truth (every kept column of the last
-- accepted row, as text); the typed columns are derived from it at ingest.
CREATE TABLE IF NOT EXISTS tickets.inc (
    ticket_id          text PRIMARY KEY,
    raw                jsonb NOT NULL,
    -- MD5 of `raw` as the ingester wrote it: an unchanged row is recognised without
    -- parsing or comparing its JSON.
    row_hash           uuid NOT NULL,
    normalized_status  text,
    raw_status         text,
    bucket             text,
    is_actionable      boolean,
    cluster            text,
    region             text,
    location_name      text,
    assigned_team      text,
    owner              text,
    sla_status         text,
    mttr               integer,          -- minutes
    created_at_service timestamptz,
    scheduled_at       timestamptz,
    closed_at          timestamptz,
    first_seen_at      timestamptz,
    last_seen_at       timestamptz,
    source_created_at  timestamptz,
    source_updated_at  timestamptz,
    -- What geocoding asks for this ticket's precise location (actionable tickets
    -- without a valid feed point): "<location without network codes>, <cluster>, Kenya".
    location_query     text,
    -- The resolved point: feed coordinates, else a geocode (see geo_source).
    latitude           double precision,
    longitude          double precision,
    geo_source         text CHECK (geo_source IN ('feed', 'location', 'cluster')),
    -- Derived from latitude/longitude so they can never disagree with them.
    geom               geometry(Point, 4326) GENERATED ALWAYS AS (
                           CASE WHEN latitude IS NOT NULL AND longitude IS NOT NULL
                                THEN ST_SetSRID(ST_MakePoint(longitude, latitude), 4326) END
                       ) STORED,
    geog               geography(Point, 4326) GENERATED ALWAYS AS (
                           CASE WHEN latitude IS NOT NULL AND longitude IS NOT NULL
                                THEN ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography END
                       ) STORED,
    ingested_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((latitude IS NULL) = (longitude IS NULL)),
    CHECK ((latitude IS NULL) = (geo_source IS NULL))
);

CREATE INDEX IF NOT EXISTS inc_geog_gist ON tickets.inc USING gist (geog) WHERE geog IS NOT NULL;
-- What the dashboard reads: the live (actionable) tickets, closures by time and
-- creations by time (the daily series). Cluster and status filters apply on top of these
-- narrow sets, so they get no index of their own: every index costs each import (an
-- index on lower(cluster) alone added ~35 ms to a 21k-row import and saved no read).
CREATE INDEX IF NOT EXISTS inc_actionable_idx ON tickets.inc (ticket_id) WHERE is_actionable;
CREATE INDEX IF NOT EXISTS inc_closed_at_idx ON tickets.inc (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS inc_created_at_service_idx ON tickets.inc (created_at_service)
    WHERE created_at_service IS NOT NULL;

-- Change requests: same shape, fed by a later version of the ingester.
CREATE TABLE IF NOT EXISTS tickets.crq (LIKE tickets.inc INCLUDING ALL);
