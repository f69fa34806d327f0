//! The staged snapshot written: one set-based upsert into `tickets.inc` (never a
//! delete), with history capture (`history::capture`) in the same statement, inside the
//! caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::lock::IngestLock;
use crate::geocode::resolve::{POINT_COLUMNS, POINT_JOINS};
use crate::history::capture::{capture, Store, LIVE};
use crate::ticket::columns::{self, TYPED};

/// "The stored row is strictly newer" than the incoming one (a null
/// `source_updated_at` counts as oldest), for the aliases of both.
pub fn stored_is_newer(stored: &str, incoming: &str) -> String {
    format!(
        "COALESCE({stored}.source_updated_at, '-infinity') > COALESCE({incoming}.source_updated_at, '-infinity')"
    )
}

/// What the staged snapshot does to the store, worked out before (or instead of) writing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    /// Distinct ticket ids in the snapshot (the later row wins within one file).
    pub tickets: i64,
    pub new: i64,
    pub updated: i64,
    /// Same content as stored: left untouched.
    pub unchanged: i64,
    /// The stored row has a strictly newer `source_updated_at`: left untouched.
    pub skipped_older: i64,
    /// History versions recorded (or, in a dry run, that would be).
    pub versions: i64,
    /// The greatest `source_updated_at` among the rows written.
    #[serde(skip)]
    pub written_max_updated_at: Option<DateTime<Utc>>,
}

/// The staged snapshot, one row per ticket (the later row wins), each with what it does
/// to the store: `new`, `updated`, `unchanged`, or `older` (the stored row is newer),
/// and `retracked`: new, or a tracked field differs from the stored row.
pub fn classified(store: Store) -> String {
    format!(
        "WITH s AS (
             SELECT * FROM inc_staging s
             WHERE NOT EXISTS (SELECT 1 FROM inc_staging d
                               WHERE d.ticket_id = s.ticket_id AND d.ord > s.ord)),
         c AS MATERIALIZED (
             SELECT s.*, CASE WHEN t.ticket_id IS NULL THEN 'new'
                              WHEN {newer} THEN 'older'
                              WHEN t.row_hash = s.row_hash THEN 'unchanged'
                              ELSE 'updated' END AS change,
                    t.ticket_id IS NULL OR {differ} AS retracked
             FROM s LEFT JOIN {tickets} t USING (ticket_id))",
        tickets = store.tickets,
        newer = stored_is_newer("t", "s"),
        differ = columns::tracked_differ("t", "s"),
    )
}

/// The counts of `Changes`, over `c` and the versions relation `versions`.
fn count_changes(versions: &str) -> String {
    format!(
        "SELECT count(*),
            count(*) FILTER (WHERE change = 'new'),
            count(*) FILTER (WHERE change = 'updated'),
            count(*) FILTER (WHERE change = 'unchanged'),
            count(*) FILTER (WHERE change = 'older'),
            (SELECT count(*) FROM {versions}),
            max(source_updated_at) FILTER (WHERE change IN ('new', 'updated'))
         FROM c"
    )
}

/// What the staged snapshot would do, without writing (the dry run).
pub async fn classify(conn: &mut PgConnection) -> sqlx::Result<Changes> {
    let sql = format!(
        "{}, {} {}",
        classified(LIVE),
        capture(
            LIVE,
            "(SELECT * FROM c WHERE change IN ('new', 'updated'))",
            false
        ),
        count_changes("v")
    );
    changes(sqlx::query_as(&sql).fetch_one(conn).await?)
}

/// Whether an upsert records history versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// The product's path: every accepted change is a version.
    Record,
    /// The history benchmark's baseline (what capture costs an import), never the
    /// product's path.
    Skip,
}

/// Writes the new and updated tickets in one statement, recording (`Capture::Record`)
/// their history versions valid from `at` by import `import_id`; never deletes.
/// Unchanged and older rows are not touched (and their JSON is never parsed).
pub async fn apply(
    conn: &mut PgConnection,
    _lock: &IngestLock,
    at: DateTime<Utc>,
    import_id: i64,
    capture: Capture,
) -> sqlx::Result<Changes> {
    write(conn, at, import_id, capture == Capture::Record).await
}

async fn write(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    import_id: i64,
    history: bool,
) -> sqlx::Result<Changes> {
    // Each written row gets its point resolved from the geocode caches as it is written.
    // The ON CONFLICT guard repeats the rule, so a concurrent writer cannot be overrun.
    let sql = format!(
        "{classified},
         w AS (
             INSERT INTO tickets.inc AS t (ticket_id, raw, row_hash, {typed}, latitude, longitude, geo_source)
             SELECT x.ticket_id, x.raw::jsonb, x.row_hash, {typed_x}, {POINT_COLUMNS}
             FROM c x {POINT_JOINS}
             WHERE x.change IN ('new', 'updated')
             ON CONFLICT (ticket_id) DO UPDATE SET
                 raw = EXCLUDED.raw, row_hash = EXCLUDED.row_hash, {set_typed},
                 latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude,
                 geo_source = EXCLUDED.geo_source, ingested_at = now()
             WHERE NOT ({newer}) AND t.row_hash <> EXCLUDED.row_hash
             RETURNING t.ticket_id),
         {capture}
         {counts}",
        classified = classified(LIVE),
        typed = *TYPED,
        typed_x = columns::list("x.", false),
        set_typed = columns::set_excluded(false),
        newer = stored_is_newer("t", "EXCLUDED"),
        capture = match history {
            true => capture(LIVE, "(SELECT c.* FROM c JOIN w USING (ticket_id))", true),
            // The same shape with nothing recorded (`$1`, `$2` still bound).
            false => "added AS (SELECT $1::timestamptz, $2::bigint WHERE false)".into(),
        },
        counts = count_changes("added"),
    );
    changes(
        sqlx::query_as(&sql)
            .bind(at)
            .bind(import_id)
            .fetch_one(conn)
            .await?,
    )
}

type ChangeCounts = (i64, i64, i64, i64, i64, i64, Option<DateTime<Utc>>);

fn changes(
    (tickets, new, updated, unchanged, skipped_older, versions, written_max_updated_at): ChangeCounts,
) -> sqlx::Result<Changes> {
    Ok(Changes {
        tickets,
        new,
        updated,
        unchanged,
        skipped_older,
        versions,
        written_max_updated_at,
    })
}
