//! `tickets.import_meta`: where each snapshot came from and what its import did.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::clean::RowStats;
use super::upsert::Changes;
use crate::db::lock::IngestLock;

/// Where a snapshot came from, for `tickets.import_meta`.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub key: String,
    pub etag: Option<String>,
    pub snapshot_at: Option<DateTime<Utc>>,
}

impl Source {
    /// A local file: its path is the key, its content MD5 the ETag (computed while read),
    /// and the snapshot time comes from its name when it follows the bucket's convention.
    pub fn local_file(path: &std::path::Path) -> Source {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        Source {
            key: path.display().to_string(),
            etag: None,
            snapshot_at: super::snapshot_time(name),
        }
    }
}

/// One row of `tickets.import_meta`.
pub struct ImportRecord<'a> {
    /// Reserved beforehand (`next_import_id`) when versions refer to it; else drawn here.
    pub id: Option<i64>,
    pub source: &'a Source,
    pub outcome: &'static str,
    pub stats: &'a RowStats,
    pub changes: Changes,
    pub error: Option<&'a str>,
    pub started_at: DateTime<Utc>,
}

pub async fn record(
    conn: &mut PgConnection,
    _lock: &IngestLock,
    r: &ImportRecord<'_>,
) -> sqlx::Result<i64> {
    let duplicates = (r.stats.rows_kept as i64 - r.changes.tickets).max(0);
    sqlx::query_scalar(
        "INSERT INTO tickets.import_meta (id, source_key, etag, snapshot_at, outcome, rows_read,
             rows_kept, dropped_alarm, dropped_sentinel, dropped_empty_id, duplicate_ids,
             warnings, inserted, updated, skipped_older, truncated, error, started_at, finished_at,
             content_max_updated_at)
         VALUES (COALESCE($19, nextval(pg_get_serial_sequence('tickets.import_meta', 'id'))),
             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             -- The clock, not now(): that is the transaction's start, before the import's work.
             clock_timestamp(),
             (SELECT max(m) FROM (SELECT max(content_max_updated_at) AS m FROM tickets.import_meta
                                  UNION ALL SELECT $18) x))
         RETURNING id",
    )
    .bind(&r.source.key)
    .bind(&r.source.etag)
    .bind(r.source.snapshot_at)
    .bind(r.outcome)
    .bind(r.stats.rows_read as i64)
    .bind(r.stats.rows_kept as i64)
    .bind(r.stats.dropped_alarm as i64)
    .bind(r.stats.dropped_sentinel as i64)
    .bind(r.stats.dropped_empty_id as i64)
    .bind(duplicates)
    .bind(r.stats.warnings as i64)
    .bind(r.changes.new)
    .bind(r.changes.updated)
    .bind(r.changes.skipped_older)
    .bind(r.stats.truncated)
    .bind(r.error)
    .bind(r.started_at)
    .bind(r.changes.written_max_updated_at)
    .bind(r.id)
    .fetch_one(conn)
    .await
}

/// An `import_meta` id drawn ahead, for the versions an import records before its row.
pub async fn next_import_id(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('tickets.import_meta', 'id'))")
        .fetch_one(conn)
        .await
}
