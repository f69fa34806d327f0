//! One ingest run over the bucket: every pending snapshot, oldest first, each imported
//! in its own transaction (or skipped when its ETag is unchanged), then archived.
//! Exactly one replica runs at a time (a PostgreSQL advisory lock).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use sqlx::{PgConnection, PgPool};

use super::bucket::{Bucket, BucketError, Pending};
use super::clean::RowStats;
use super::record::{self, ImportRecord, Source};
use super::upsert::Changes;
use super::{import_file, ImportError, ImportReport, Mode};
use crate::db::lock::{IngestLock, LockError};
use crate::geocode::run::Trigger;
use crate::history::{retention, sealed};
use crate::metrics::Metrics;

/// How long a run waits for the ingest lock before it leaves the work to its holder:
/// a geocoding run writes its points in well under this, an import may not.
pub const RUN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What happened (or, in a dry run, would happen) to one snapshot.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Imported {
        /// Boxed: the other outcomes are small.
        report: Box<ImportReport>,
    },
    /// Same ETag as the last imported snapshot: no database write.
    Unchanged,
    /// Refused (moved to `failed/` with an error note).
    Failed { error: String },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotOutcome {
    pub key: String,
    pub etag: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunReport {
    /// Another replica held the lock: this run did nothing.
    pub skipped_locked: bool,
    pub snapshots: Vec<SnapshotOutcome>,
}

impl RunReport {
    pub fn wrote_rows(&self) -> bool {
        self.snapshots
            .iter()
            .any(|s| matches!(&s.outcome, Outcome::Imported { report } if report.wrote_rows()))
    }
}

#[derive(Clone)]
pub struct Ingester {
    pub pool: PgPool,
    pub bucket: Bucket,
    pub metrics: Arc<Metrics>,
    /// The database URL, for the lock's own connection (not a pooled one).
    pub database_url: crate::config::SecretString,
    /// Asked for a geocoding run (the supervised task's) after an ingest run that
    /// wrote rows.
    pub geocode: Option<Trigger>,
    /// The SLA target the backlog's hours are sealed for after each run
    /// (`history::sealed`); `None` (the CLI) leaves them to the server's next run.
    pub seal_sla_target_hours: Option<f64>,
    /// `HISTORY_RETENTION_DAYS`: applied after each run that holds the lock.
    pub retention_days: Option<u32>,
}

impl Ingester {
    /// Runs over every pending snapshot. A bucket or database fault stops the run (the
    /// snapshot stays pending for the next one); a bad snapshot is set aside and the
    /// run goes on. Applied, the run needs the ingest lock: when another replica or
    /// process holds it for `RUN_PATIENCE`, the run does nothing (`skipped_locked`).
    pub async fn run(&self, mode: Mode) -> Result<RunReport, RunError> {
        match mode {
            Mode::DryRun => self.observed(None).await,
            Mode::Apply => {
                match IngestLock::acquire(&self.database_url, RUN_PATIENCE, || {}).await {
                    Ok(lock) => self.run_locked(lock).await,
                    Err(LockError::Database(e)) => Err(e.into()),
                    Err(LockError::Busy(_)) => {
                        tracing::info!("another replica is importing; skipping this run");
                        Ok(RunReport {
                            skipped_locked: true,
                            ..RunReport::default()
                        })
                    }
                }
            }
        }
    }

    /// An applied run under the lock the caller took; then retention and sealing, under
    /// the same lock. The lock is released at the end.
    pub async fn run_locked(&self, lock: IngestLock) -> Result<RunReport, RunError> {
        let report = self.observed(Some(&lock)).await;
        lock.release().await;
        report
    }

    /// A run (applied with `lock`, else a dry run), logged and counted.
    #[tracing::instrument(name = "ingest", skip_all, fields(mode, snapshots))]
    async fn observed(&self, lock: Option<&IngestLock>) -> Result<RunReport, RunError> {
        let mode = Mode::of(lock);
        tracing::Span::current().record("mode", tracing::field::debug(mode));
        let result = self.run_inner(lock).await;
        match &result {
            Ok(report) => {
                tracing::Span::current().record("snapshots", report.snapshots.len());
                if let (true, Some(geocode)) = (report.wrote_rows(), &self.geocode) {
                    geocode.ask();
                }
            }
            Err(e) => {
                let outcome = match e {
                    RunError::Bucket(_) => "bucket_error",
                    RunError::Database(_) => "db_error",
                };
                Metrics::outcome(&self.metrics.imports, outcome);
                tracing::error!(error = %e, "ingest run stopped; pending snapshots wait for the next run");
            }
        }
        result
    }

    async fn run_inner(&self, lock: Option<&IngestLock>) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        let mut last_etag = last_imported_etag(&self.pool).await?;
        for snapshot in self.bucket.pending().await? {
            let outcome = self.one(&snapshot, last_etag.as_deref(), lock).await?;
            if !matches!(outcome, Outcome::Failed { .. }) {
                last_etag = Some(snapshot.etag.clone());
            }
            report.snapshots.push(SnapshotOutcome {
                key: snapshot.key,
                etag: snapshot.etag,
                outcome,
            });
        }
        if let Some(lock) = lock {
            self.after_run(lock).await;
        }
        Ok(report)
    }

    /// Retention, then sealing: both rewrite derived history, so both run under the
    /// run's lock. A failure is logged; the next run retries.
    async fn after_run(&self, lock: &IngestLock) {
        if let Some(days) = self.retention_days {
            if let Err(e) = retention::apply(&self.pool, lock, days, Utc::now()).await {
                tracing::warn!(error = %e, "history retention failed; the next run retries");
            }
        }
        if let Some(target) = self.seal_sla_target_hours {
            // A cache of the history: if this fails, the backlog reads the versions.
            if let Err(e) = sealed::extend(&self.pool, lock, target, Utc::now()).await {
                tracing::warn!(error = %e, "sealing the backlog's hours failed; the next run retries");
            }
        }
    }

    #[tracing::instrument(name = "snapshot", skip_all,
        fields(key = %snapshot.key, etag = %snapshot.etag, outcome, new, updated, unchanged))]
    async fn one(
        &self,
        snapshot: &Pending,
        last_etag: Option<&str>,
        lock: Option<&IngestLock>,
    ) -> Result<Outcome, RunError> {
        let source = Source {
            key: snapshot.key.clone(),
            etag: Some(snapshot.etag.clone()),
            snapshot_at: Some(snapshot.snapshot_at),
        };
        if last_etag == Some(snapshot.etag.as_str()) {
            if let Some(lock) = lock {
                let mut conn = self.pool.acquire().await?;
                // Byte-identical to the last import, so it is truncated when that was.
                let truncated: Option<bool> = sqlx::query_scalar(
                    "SELECT truncated FROM tickets.import_meta WHERE outcome = 'imported'
                     ORDER BY id DESC LIMIT 1",
                )
                .fetch_optional(&mut *conn)
                .await?;
                let stats = RowStats {
                    truncated: truncated.unwrap_or(false),
                    ..RowStats::default()
                };
                record_without_rows(&mut conn, lock, &source, "unchanged", &stats, None).await?;
                self.bucket.archive(snapshot).await?;
                Metrics::outcome(&self.metrics.imports, "unchanged");
                tracing::Span::current().record("outcome", "unchanged");
                tracing::info!("unchanged (same ETag): checked and archived");
            }
            return Ok(Outcome::Unchanged);
        }
        let started = Instant::now();
        let file = tempfile::NamedTempFile::new().map_err(BucketError::from)?;
        self.bucket.download(&snapshot.key, file.path()).await?;
        match import_file(&self.pool, file.path(), source.clone(), lock).await {
            Ok(report) => {
                if lock.is_some() {
                    self.bucket.archive(snapshot).await?;
                    Metrics::outcome(&self.metrics.imports, "imported");
                    self.metrics
                        .import_rows
                        .inc_by((report.changes.new + report.changes.updated) as u64);
                    self.metrics
                        .import_seconds
                        .observe(started.elapsed().as_secs_f64());
                    let span = tracing::Span::current();
                    span.record("outcome", "imported");
                    span.record("new", report.changes.new);
                    span.record("updated", report.changes.updated);
                    span.record("unchanged", report.changes.unchanged);
                    tracing::info!("imported and archived");
                }
                Ok(Outcome::Imported {
                    report: Box::new(report),
                })
            }
            Err(ImportError::Database(e)) if super::database_at_fault(&e) => {
                Err(RunError::Database(e))
            }
            // What is left is the snapshot's fault (`ImportError::is_bad_file`).
            Err(e) => {
                let error = e.to_string();
                if let Some(lock) = lock {
                    let mut conn = self.pool.acquire().await?;
                    record_without_rows(
                        &mut conn,
                        lock,
                        &source,
                        "failed",
                        &RowStats::default(),
                        Some(&error),
                    )
                    .await?;
                    self.bucket.set_aside(snapshot, &error).await?;
                    Metrics::outcome(&self.metrics.imports, "failed");
                    tracing::Span::current().record("outcome", "failed");
                    tracing::warn!(%error, "refused; moved to failed/");
                }
                Ok(Outcome::Failed { error })
            }
        }
    }
}

/// The ETag of the snapshot the store's content last came from.
async fn last_imported_etag(pool: &PgPool) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT etag FROM tickets.import_meta WHERE outcome IN ('imported', 'unchanged')
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map(Option::flatten)
}

async fn record_without_rows(
    conn: &mut PgConnection,
    lock: &IngestLock,
    source: &Source,
    outcome: &'static str,
    stats: &RowStats,
    error: Option<&str>,
) -> sqlx::Result<i64> {
    // A name in the future is recorded at the clock, as `import_file` does.
    let mut source = source.clone();
    super::FutureSnapshot::cap(&mut source, Utc::now());
    let record = ImportRecord {
        id: None,
        source: &source,
        outcome,
        stats,
        changes: Changes::default(),
        error,
        started_at: Utc::now(),
    };
    record::record(conn, lock, &record).await
}
