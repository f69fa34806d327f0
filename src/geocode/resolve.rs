//! Point resolution: valid feed coordinates, else a cached location answer, else the
//! cluster's centroid (a provider answer, else the gazetteer through the alias map),
//! else none. Written rows are resolved as the import writes them; every ticket is
//! resolved again after a geocoding run.

use sqlx::PgConnection;

macro_rules! centroid_joins {
    () => {
        "
    LEFT JOIN tickets.geo_clusters gc ON gc.cluster = x.cluster AND gc.status = 'found'
    LEFT JOIN tickets.cluster_aliases ca ON upper(ca.code) = upper(x.cluster)
    LEFT JOIN tickets.gazetteer gz ON lower(gz.cluster) = lower(COALESCE(ca.cluster, x.cluster))"
    };
}

/// Joins over a relation `x` with a `cluster`: its centroid is
/// `COALESCE(gc.latitude, gz.latitude)` (a provider answer, else the gazetteer entry of
/// its name after the alias map).
pub const CENTROID_JOINS: &str = centroid_joins!();

/// Joins over a relation `x` with `feed_lat`, `feed_lon`, `location_query`, `cluster`.
pub const POINT_JOINS: &str = concat!(
    "
    LEFT JOIN tickets.geo_locations gl ON gl.query = x.location_query AND gl.status = 'found'",
    centroid_joins!()
);

/// `latitude, longitude, geo_source` of the resolved point, over `POINT_JOINS`.
pub const POINT_COLUMNS: &str = "
    COALESCE(x.feed_lat, gl.latitude, gc.latitude, gz.latitude),
    COALESCE(x.feed_lon, gl.longitude, gc.longitude, gz.longitude),
    CASE WHEN x.feed_lat IS NOT NULL THEN 'feed'
         WHEN gl.query IS NOT NULL THEN 'location'
         WHEN COALESCE(gc.latitude, gz.latitude) IS NOT NULL THEN 'cluster' END";

/// Re-resolves every ticket (after geocoding answers changed); writes only the rows
/// whose point changes and returns how many did. Under the ingest lock, as every write
/// of `tickets.inc` is (an import rewriting the same rows could otherwise deadlock it).
pub async fn resolve_all(
    conn: &mut PgConnection,
    _lock: &crate::db::lock::IngestLock,
) -> sqlx::Result<u64> {
    let sql = format!(
        "WITH x AS (
             SELECT ticket_id, cluster, location_query, latitude AS old_lat,
                    longitude AS old_lon, geo_source AS old_source,
                    CASE WHEN geo_source = 'feed' THEN latitude END AS feed_lat,
                    CASE WHEN geo_source = 'feed' THEN longitude END AS feed_lon
             FROM tickets.inc),
         r (ticket_id, old_lat, old_lon, old_source, latitude, longitude, geo_source) AS (
             SELECT x.ticket_id, x.old_lat, x.old_lon, x.old_source, {POINT_COLUMNS}
             FROM x {POINT_JOINS})
         UPDATE tickets.inc i
         SET latitude = r.latitude, longitude = r.longitude, geo_source = r.geo_source
         FROM r
         WHERE i.ticket_id = r.ticket_id
           AND (r.latitude, r.longitude, r.geo_source) IS DISTINCT FROM (r.old_lat, r.old_lon, r.old_source)"
    );
    Ok(sqlx::query(&sql).execute(conn).await?.rows_affected())
}
