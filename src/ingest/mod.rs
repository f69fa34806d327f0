//! The ingester: a snapshot file is streamed, cleaned and upserted in one transaction.

pub mod backfill;
pub mod bucket;
pub mod clean;
#[cfg(test)]
mod clean_props;
pub mod progress;
pub mod record;
pub mod run;
pub mod schedule;
pub mod staging;
pub mod upsert;
pub mod values;

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::Utc;
use md5::{Digest, Md5};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;

use crate::db::lock::IngestLock;
use crate::db::{self, DatabaseFault};
use crate::geocode::names::{ticket_location_query, Aliases};
use crate::history::capture;
use clean::{Cleaning, FileError, Header, RowStats};
pub use record::Source;
pub use upsert::Changes;

/// Staging rows are sent to PostgreSQL in chunks of about this size, so memory stays
/// bounded whatever the file's size.
const BATCH_BYTES: usize = 1 << 20;

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
            ImportError::Database(e) => db::fault(e) == DatabaseFault::BadValue,
        }
    }
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
    let (stats, md5) = stage(&mut tx, path, &source.key, aliases, mode).await?;
    let staged_ms = started_at_instant.elapsed().as_millis();
    let (changes, import_id) = match lock {
        None => (upsert::classify(&mut tx).await?, None),
        Some(lock) => {
            let id = record::next_import_id(&mut tx).await?;
            let wanted = source.snapshot_at.unwrap_or(started_at);
            let at = capture::history_time(&mut tx, capture::LIVE, wanted).await?;
            let changes = upsert::apply(&mut tx, lock, at, id).await?;
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

/// Streams a snapshot file, cleaned, into a new staging table on `conn` (inside its
/// transaction). A file refused at its header (or empty) is refused before the staging
/// table exists; a dry run's transaction is made read-only once it does.
pub async fn stage(
    conn: &mut PgConnection,
    path: &Path,
    label: &str,
    aliases: Aliases,
    mode: Mode,
) -> Result<(RowStats, String), ImportError> {
    let (tx_batches, mut batches) = mpsc::channel(2);
    let mut reader = Some({
        let (path, label) = (path.to_path_buf(), label.to_owned());
        // The reader's logs belong to the import's span.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| read_file(path, &label, &aliases, &tx_batches))
        })
    });
    let join = |handle: tokio::task::JoinHandle<_>| async {
        handle.await.unwrap_or_else(|e| {
            Err(ImportError::Io {
                file: label.to_owned(),
                source: std::io::Error::other(e),
            })
        })
    };
    let first = batches.recv().await;
    let mut finished = None;
    if first.is_none() {
        finished = Some(join(reader.take().expect("not joined yet")).await?);
    }
    staging::create_staging(conn).await?;
    if mode == Mode::DryRun {
        // From here on only temporary tables can be written: the proof of a dry run.
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *conn)
            .await?;
    }
    let mut copy = conn.copy_in_raw(staging::COPY_STAGING).await?;
    let mut next = first;
    while let Some(batch) = next {
        copy.send(batch).await?;
        next = batches.recv().await;
    }
    // The reader's verdict decides: a file error aborts the COPY and so the transaction.
    let done = match finished {
        Some(done) => done,
        None => match join(reader.take().expect("not joined yet")).await {
            Ok(done) => done,
            Err(e) => {
                copy.abort(e.to_string()).await.ok();
                return Err(e);
            }
        },
    };
    copy.finish().await?;
    Ok(done)
}

/// Reads, cleans and encodes the file on a blocking thread, sending COPY batches.
/// Returns the row counts and the content MD5 (hex), or the reason the file is refused.
fn read_file(
    path: PathBuf,
    label: &str,
    aliases: &Aliases,
    out: &mpsc::Sender<Vec<u8>>,
) -> Result<(RowStats, String), ImportError> {
    let began = std::time::Instant::now();
    let mut buf = Vec::with_capacity(BATCH_BYTES + 4096);
    let mut ord = 0u64;
    let read = read_rows(&path, label, Cleaning::Full, |mut row| {
        row.location_query = ticket_location_query(
            row.is_actionable == Some(true),
            row.feed_point().is_some(),
            row.location_name.as_deref(),
            row.cluster.as_deref(),
            aliases,
        );
        ord += 1;
        staging::encode_row(ord, &row, &mut buf);
        if buf.len() >= BATCH_BYTES {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(BATCH_BYTES + 4096));
            // The importer gave up (its transaction failed): stop reading.
            return out.blocking_send(full).is_ok();
        }
        true
    })?;
    if !buf.is_empty() {
        out.blocking_send(buf).ok();
    }
    tracing::debug!(reader_ms = began.elapsed().as_millis(), "reader done");
    Ok(read)
}

/// Reads and cleans a snapshot file, handing each kept row, in file order, to `row`
/// (which returns false to stop early). Returns the row counts and, for
/// `Cleaning::Full`, the content MD5 (hex; else empty), or the reason the file is
/// refused. Blocking.
pub fn read_rows(
    path: &Path,
    label: &str,
    cleaning: Cleaning,
    mut row: impl FnMut(crate::ticket::CleanRow) -> bool,
) -> Result<(RowStats, String), ImportError> {
    let io_err = |source| ImportError::Io {
        file: label.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut hashed = Hashing {
        inner: file,
        md5: (cleaning == Cleaning::Full).then(Md5::new),
    };
    let stats = {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&mut hashed);
        let mut record = csv::StringRecord::new();
        let malformed = |e: csv::Error| -> ImportError {
            let line = e.position().map_or(0, |p| p.line());
            let reason = match e.into_kind() {
                csv::ErrorKind::Io(source) => return io_err(source),
                csv::ErrorKind::Utf8 { err, .. } => format!(
                    "field {} is not UTF-8 text (is this a CSV export at all?)",
                    err.field() + 1
                ),
                kind => format!("{kind:?}"),
            };
            FileError::Malformed {
                file: label.to_owned(),
                line,
                reason,
            }
            .into()
        };
        if !csv.read_record(&mut record).map_err(malformed)? {
            return Err(FileError::Empty {
                file: label.to_owned(),
            }
            .into());
        }
        let header = Header::parse(label, &record)?;
        let mut stats = RowStats::default();
        while csv.read_record(&mut record).map_err(malformed)? {
            let line = record.position().map_or(0, |p| p.line());
            if let Some(clean) = header.clean_as(&record, line, &mut stats, cleaning)? {
                if !row(clean) {
                    return Ok((stats, String::new()));
                }
            }
        }
        stats
    };
    // Hash whatever the CSV reader did not consume (nothing, normally).
    std::io::copy(&mut hashed, &mut std::io::sink()).map_err(io_err)?;
    let md5 = hashed.md5.map(|m| format!("{:x}", m.finalize()));
    Ok((stats, md5.unwrap_or_default()))
}

/// Computes the MD5 (the S3 ETag of a single-part upload) of what passes through, when
/// asked to.
struct Hashing<R> {
    inner: R,
    md5: Option<Md5>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(md5) = &mut self.md5 {
            md5.update(&buf[..n]);
        }
        Ok(n)
    }
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
