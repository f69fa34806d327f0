//! The ingester: a snapshot file is streamed, cleaned and upserted in one transaction.

pub mod backfill;
pub mod bucket;
pub mod clean;
#[cfg(test)]
mod clean_props;
pub mod progress;
pub mod read;
pub mod record;
pub mod run;
pub mod schedule;
pub mod staging;
pub mod upsert;

use std::path::Path;

use chrono::Utc;
use sqlx::{Connection, PgConnection, PgPool};

use crate::db::lock::IngestLock;
use crate::db::{self, DatabaseFault};
use crate::geocode::names::Aliases;
use crate::history::capture;
use clean::{FileError, RowStats};
pub use read::read_rows;
pub use record::Source;
pub use upsert::Changes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Work out what the import would do; write nothing.
    DryRun,
    Apply,
}

impl Mode {
    /// A write needs the ingest lock, so holding it is what makes a run applied.
    pub fn of(lock: Option<&IngestLock>) -> Mode {
        match lock {
            Some(_) => Mode::Apply,
            None => Mode::DryRun,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("the database refused the import: {0}")]
    Database(#[from] sqlx::Error),
}

impl ImportError {
    /// True when the snapshot itself is at fault (as opposed to the database): a file
    /// that cannot be read or cleaned, or a value PostgreSQL cannot store (a NUL byte).
    pub fn is_bad_file(&self) -> bool {
        match self {
            ImportError::File(_) | ImportError::Io { .. } => true,
            ImportError::Database(e) => !database_at_fault(e),
        }
    }
}

/// The database itself is at fault for `e`, not the snapshot (whose values PostgreSQL
/// may refuse): the one rule `ImportError::is_bad_file` and the ingester apply.
pub fn database_at_fault(e: &sqlx::Error) -> bool {
    db::fault(e) != DatabaseFault::BadValue
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub source_key: String,
    /// The ETag recorded for the snapshot (the content MD5 for a local file).
    pub etag: String,
    pub stats: RowStats,
    pub changes: Changes,
    pub applied: bool,
    /// The `tickets.import_meta` row, when applied.
    pub import_id: Option<i64>,
    /// The file's name gave a time after the import's clock: its versions are recorded
    /// at the clock instead (history never runs ahead of it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub future_snapshot: Option<FutureSnapshot>,
}

/// A snapshot named after the clock (an exporter's clock or time zone gone wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FutureSnapshot {
    /// The time its name gives.
    #[serde(serialize_with = "crate::eat::serialize")]
    pub named: chrono::DateTime<Utc>,
    /// The import's clock, used instead.
    #[serde(serialize_with = "crate::eat::serialize")]
    pub recorded_at: chrono::DateTime<Utc>,
}

impl FutureSnapshot {
    /// Caps `source`'s snapshot time at `now`; says so when it had to.
    pub fn cap(source: &mut Source, now: chrono::DateTime<Utc>) -> Option<FutureSnapshot> {
        let named = source.snapshot_at.filter(|t| *t > now)?;
        source.snapshot_at = Some(now);
        Some(FutureSnapshot {
            named,
            recorded_at: now,
        })
    }
}

impl ImportReport {
    pub fn wrote_rows(&self) -> bool {
        self.applied && (self.changes.new + self.changes.updated) > 0
    }
}

/// The settings of a transaction that writes a snapshot: the dedupe sort of a
/// production-size snapshot fits in memory, and no JIT (the import's statements are
/// estimated far above their real size, and compiling them cost 0.2 s an import).
pub async fn writer_settings(tx: &mut PgConnection) -> sqlx::Result<()> {
    for setting in ["SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off"] {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Imports one snapshot file: all of it in one transaction, or nothing. Applied with the
/// ingest `lock`; without it, a dry run.
pub async fn import_file(
    pool: &PgPool,
    path: &Path,
    mut source: Source,
    lock: Option<&IngestLock>,
) -> Result<ImportReport, ImportError> {
    let mode = Mode::of(lock);
    let started_at = Utc::now();
    let future_snapshot = FutureSnapshot::cap(&mut source, started_at);
    if let Some(f) = future_snapshot {
        tracing::warn!(
            key = %source.key,
            named = %crate::eat::rfc3339(f.named),
            "the snapshot's name is after the import's clock: its versions are recorded at the clock"
        );
    }
    let started_at_instant = std::time::Instant::now();
    let aliases = Aliases::load(&mut *pool.acquire().await?).await?;
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    writer_settings(&mut tx).await?;
    sqlx::query("SET LOCAL statement_timeout = '15min'")
        .execute(&mut *tx)
        .await?;
    let (stats, md5) = staging::stage(&mut tx, path, &source.key, aliases, mode).await?;
    let staged_ms = started_at_instant.elapsed().as_millis();
    let (changes, import_id) = match lock {
        None => (upsert::classify(&mut tx).await?, None),
        Some(lock) => {
            let id = record::next_import_id(&mut tx).await?;
            let wanted = source.snapshot_at.unwrap_or(started_at);
            let at = capture::history_time(&mut tx, capture::LIVE, wanted).await?;
            let changes = upsert::apply(&mut tx, lock, at, id, upsert::Capture::Record).await?;
            if changes.versions > 0 {
                capture::start_capture(&mut tx, lock, at).await?;
            }
            (changes, Some(id))
        }
    };
    let written_ms = started_at_instant.elapsed().as_millis();
    source.etag.get_or_insert(md5);
    let mut report = ImportReport {
        source_key: source.key.clone(),
        etag: source.etag.clone().unwrap_or_default(),
        stats,
        changes,
        applied: mode == Mode::Apply,
        import_id,
        future_snapshot,
    };
    let Some(lock) = lock else {
        tx.rollback().await?;
        return Ok(report);
    };
    let record = record::ImportRecord {
        id: import_id,
        source: &source,
        outcome: "imported",
        stats: &report.stats,
        changes,
        error: None,
        started_at,
    };
    report.import_id = Some(record::record(&mut tx, lock, &record).await?);
    tx.commit().await?;
    if report.wrote_rows() {
        crate::events::notify(&mut conn, report.import_id.unwrap_or_default()).await;
    }
    tracing::debug!(
        staged_ms,
        written_ms,
        total_ms = started_at_instant.elapsed().as_millis(),
        "import phases"
    );
    Ok(report)
}

/// The export time in a snapshot's file name, `YYYY-MM-DDTHHMMSS.csv` in EAT.
pub fn snapshot_time(file_name: &str) -> Option<chrono::DateTime<Utc>> {
    let stem = file_name.strip_suffix(".csv")?;
    let naive = chrono::NaiveDateTime::parse_from_str(stem, "%Y-%m-%dT%H%M%S").ok()?;
    crate::eat::from_local(naive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_times_come_from_eat_file_names() {
        assert_eq!(
            snapshot_time("2026-06-16T071502.csv").map(|t| t.to_rfc3339()),
            Some("2026-06-16T04:15:02+00:00".into())
        );
        for bad in [
            "2026-06-16T0715.csv",
            "2026-06-16T071502.txt",
            "latest.csv",
            "2026-13-16T071502.csv",
        ] {
            assert_eq!(snapshot_time(bad), None, "{bad}");
        }
    }
}
