-- The offline gazetteer: cluster centroids shipped with the project
-- (gazetteer/clusters.csv, added at every migrate; rows are never overwritten, so an
-- operator's edits stay).
CREATE TABLE IF NOT EXISTS tickets.gazetteer (
    cluster   text PRIMARY KEY,
    region    text,
    latitude  double precision NOT NULL,
    longitude double precision NOT NULL
);

-- Legacy cluster codes mapped to the cluster name used for geocoding (editable).
CREATE TABLE IF NOT EXISTS tickets.cluster_aliases (
    code    text PRIMARY KEY,
    cluster text NOT NULL
);
INSERT INTO tickets.cluster_aliases (code, cluster)
VALUES ('QOA', 'Quarry Road'), ('PTMP', 'Pipeline')
ON CONFLICT (code) DO NOTHING;

-- Geocoder answers, cached so a query is never sent twice: found points, misses
-- (not_found) and wrong-city answers (rejected: more than 25 km from the cluster's
-- centroid). Misses and rejections may be asked again after GEOCODER_RETRY_MISSES_DAYS.
CREATE TABLE IF NOT EXISTS tickets.geo_clusters (
    cluster      text PRIMARY KEY,          -- as stored in tickets.inc.cluster
    query        text NOT NULL,
    status       text NOT NULL CHECK (status IN ('found', 'not_found', 'rejected')),
    latitude     double precision,
    longitude    double precision,
    display_name text,
    distance_km  double precision,          -- from the gazetteer centroid, when known
    provider     text NOT NULL,
    asked_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'found') = (latitude IS NOT NULL AND longitude IS NOT NULL))
);

CREATE TABLE IF NOT EXISTS tickets.geo_locations (
    query        text PRIMARY KEY,          -- "<cleaned location>, <cluster>, Kenya"
    status       text NOT NULL CHECK (status IN ('found', 'not_found', 'rejected')),
    latitude     double precision,
    longitude    double precision,
    display_name text,
    distance_km  double precision,          -- from the cluster centroid, when known
    provider     text NOT NULL,
    asked_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'found') = (latitude IS NOT NULL AND longitude IS NOT NULL))
);

-- One row per import run: imported, unchanged (ETag skip) or failed.
CREATE TABLE IF NOT EXISTS tickets.import_meta (
    id               bigserial PRIMARY KEY,
    source_key       text NOT NULL,
    etag             text,
    snapshot_at      timestamptz,
    outcome          text NOT NULL CHECK (outcome IN ('imported', 'unchanged', 'failed')),
    rows_read        bigint NOT NULL DEFAULT 0,
    rows_kept        bigint NOT NULL DEFAULT 0,
    dropped_alarm    bigint NOT NULL DEFAULT 0,
    dropped_sentinel bigint NOT NULL DEFAULT 0,
    dropped_empty_id bigint NOT NULL DEFAULT 0,
    duplicate_ids    bigint NOT NULL DEFAULT 0,
    warnings         bigint NOT NULL DEFAULT 0,
    inserted         bigint NOT NULL DEFAULT 0,
    updated          bigint NOT NULL DEFAULT 0,
    skipped_older    bigint NOT NULL DEFAULT 0,
    truncated        boolean NOT NULL DEFAULT false,
    -- The greatest source_updated_at in the store after this import (rows only grow
    -- newer and are never deleted, so it is carried forward from run to run).
    content_max_updated_at timestamptz,
    error            text,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS import_meta_finished_idx ON tickets.import_meta (finished_at DESC);
