//! `fleettickets history backfill`: the archived snapshots older than the recorded history
//! replayed, in key-time order, into the history alone, through the import's own cleaning,
//! newer-row guard and capture statements (run over temporary copies of the store).
//! One transaction under the ingest lock; one snapshot on disk at a time.

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use crate::geocode::names::Aliases;
use crate::ingest::bucket::{Bucket, BucketError};
use crate::ingest::upsert::{self, Store};
use crate::ingest::{stage, ImportError, Mode};

/// The replay's store: the guard's columns of `tickets.inc` and a history of its own.
const REPLAY: Store = Store {
    tickets: "replay_inc",
    history: "replay_history",
};

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("an import or another backfill is running (the ingest lock is held); try again later")]
    Locked,
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a backfill did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BackfillReport {
    pub applied: bool,
    /// Archived snapshots older than the recorded history, replayed.
    pub snapshots: usize,
    /// Archived snapshots that could not be read: key and reason.
    pub skipped: Vec<(String, String)>,
    /// Versions added to the history.
    pub versions: i64,
    /// Capture start after the backfill.
    pub capture_started_at: Option<DateTime<Utc>>,
}

/// Replays the archive. `progress` hears one line per snapshot.
pub async fn run(
    pool: &PgPool,
    bucket: &Bucket,
    database_url: &crate::config::SecretString,
    mode: Mode,
    mut progress: impl FnMut(&str),
) -> Result<BackfillReport, BackfillError> {
    let lock = match mode {
        Mode::DryRun => None,
        Mode::Apply => Some(
            crate::db::try_lock(database_url, crate::ingest::run::LOCK_KEY)
                .await?
                .ok_or(BackfillError::Locked)?,
        ),
    };
    let aliases = Aliases::load(&mut *pool.acquire().await?).await?;
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // Only snapshots older than everything recorded are replayed: what is recorded stays.
    let known_from: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT LEAST((SELECT started_at FROM tickets.history_capture),
                      (SELECT min(valid_from) FROM tickets.inc_history))",
    )
    .fetch_one(&mut *tx)
    .await?;
    let archive: Vec<_> = bucket
        .archived()
        .await?
        .into_iter()
        .filter(|s| known_from.is_none_or(|k| s.snapshot_at < k))
        .collect();
    crate::ingest::writer_settings(&mut tx).await?;
    // The guard's columns and the tracked fields of `tickets.inc`, as the replay goes.
    sqlx::raw_sql(&format!(
        "CREATE TEMP TABLE replay_inc ON COMMIT DROP AS
             SELECT ticket_id, row_hash, source_updated_at, {} FROM tickets.inc WITH NO DATA;
         ALTER TABLE replay_inc ADD PRIMARY KEY (ticket_id);
         CREATE TEMP TABLE replay_history (LIKE tickets.inc_history INCLUDING ALL) ON COMMIT DROP;",
        *crate::ingest::columns::TRACKED
    ))
    .execute(&mut *tx)
    .await?;
    let mut report = BackfillReport {
        applied: mode == Mode::Apply,
        ..BackfillReport::default()
    };
    let mut oldest = None;
    let total = archive.len();
    for (i, snapshot) in archive.iter().enumerate() {
        let file = tempfile::NamedTempFile::new().map_err(BucketError::from)?;
        bucket.download(&snapshot.key, file.path()).await?;
        // A savepoint per snapshot, so an unreadable one is skipped cleanly.
        let mut sp = Connection::begin(&mut *tx).await?;
        match replay(
            &mut sp,
            file.path(),
            &snapshot.key,
            &aliases,
            snapshot.snapshot_at,
        )
        .await
        {
            Ok(versions) => {
                sp.commit().await?;
                oldest.get_or_insert(snapshot.snapshot_at);
                report.snapshots += 1;
                progress(&format!(
                    "[{}/{total}] {}: {versions} versions",
                    i + 1,
                    snapshot.key
                ));
            }
            Err(e) if e.is_bad_file() => {
                sp.rollback().await?;
                progress(&format!(
                    "[{}/{total}] {}: skipped: {e}",
                    i + 1,
                    snapshot.key
                ));
                report.skipped.push((snapshot.key.clone(), e.to_string()));
            }
            Err(ImportError::Database(e)) => return Err(e.into()),
            Err(e) => return Err(BucketError::from(std::io::Error::other(e.to_string())).into()),
        }
    }
    report.versions = merge(&mut tx, mode).await?;
    if let (Mode::Apply, Some(oldest)) = (mode, oldest) {
        sqlx::query(
            "INSERT INTO tickets.history_capture (started_at) VALUES ($1)
             ON CONFLICT (one) DO UPDATE SET started_at = LEAST(history_capture.started_at, EXCLUDED.started_at)",
        )
        .bind(oldest)
        .execute(&mut *tx)
        .await?;
        // The past changed: the sealed hours are sealed again by the next ingest run.
        sqlx::query("DELETE FROM tickets.backlog_hourly")
            .execute(&mut *tx)
            .await?;
    }
    report.capture_started_at =
        sqlx::query_scalar("SELECT LEAST((SELECT started_at FROM tickets.history_capture), $1)")
            .bind(oldest)
            .fetch_one(&mut *tx)
            .await?;
    // A dry run writes only temporary tables (and the history in `merge` not at all),
    // then rolls them back.
    match mode {
        Mode::Apply => tx.commit().await?,
        Mode::DryRun => tx.rollback().await?,
    }
    if let Some(lock) = lock {
        lock.close().await.ok();
    }
    Ok(report)
}

/// One archived snapshot through the import's staging, guard and capture, into the
/// replay's tables. Returns the versions it recorded.
async fn replay(
    conn: &mut PgConnection,
    path: &std::path::Path,
    key: &str,
    aliases: &Aliases,
    snapshot_at: DateTime<Utc>,
) -> Result<i64, ImportError> {
    stage(conn, path, key, aliases.clone(), Mode::Apply).await?;
    let at = upsert::history_time(conn, REPLAY, snapshot_at).await?;
    let sql = format!(
        "{classified},
         w AS (INSERT INTO replay_inc AS t (ticket_id, row_hash, source_updated_at, {tracked})
               SELECT ticket_id, row_hash, source_updated_at, {tracked} FROM c
               WHERE change IN ('new', 'updated')
               ON CONFLICT (ticket_id) DO UPDATE SET row_hash = EXCLUDED.row_hash,
                   source_updated_at = EXCLUDED.source_updated_at, {set_tracked}
               RETURNING t.ticket_id),
         {capture}
         SELECT count(*) FROM added",
        classified = upsert::classified(REPLAY),
        capture = upsert::capture(REPLAY, "(SELECT c.* FROM c JOIN w USING (ticket_id))", true),
        tracked = *crate::ingest::columns::TRACKED,
        set_tracked = upsert::set_excluded(true),
    );
    let versions = sqlx::query_scalar(&sql)
        .bind(at)
        .bind(None::<i64>)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("DROP TABLE inc_staging")
        .execute(&mut *conn)
        .await?;
    Ok(versions)
}

/// Joins each replayed chain to the recorded history: its last version ends where the
/// ticket's first recorded version starts, or, when that one only repeats it, the two
/// are one version (no flow at the seam). Applied, the replayed versions are added.
/// Returns how many versions that adds.
async fn merge(conn: &mut PgConnection, mode: Mode) -> sqlx::Result<i64> {
    let tracked = |p: &str| crate::ingest::columns::list(p, true);
    sqlx::raw_sql(&format!(
        "CREATE TEMP TABLE replay_seam ON COMMIT DROP AS
         SELECT r.ticket_id, r.valid_from AS replayed_from, e.valid_from AS recorded_from,
                ROW({r}) IS NOT DISTINCT FROM ROW({e}) AS same
         FROM replay_history r
         CROSS JOIN LATERAL (SELECT * FROM tickets.inc_history e WHERE e.ticket_id = r.ticket_id
                             ORDER BY e.valid_from LIMIT 1) e
         WHERE r.valid_to IS NULL;
         UPDATE replay_history r SET valid_to = s.recorded_from FROM replay_seam s
         WHERE r.ticket_id = s.ticket_id AND r.valid_to IS NULL AND NOT s.same;",
        r = tracked("r."),
        e = tracked("e."),
    ))
    .execute(&mut *conn)
    .await?;
    if mode == Mode::Apply {
        sqlx::raw_sql(
            "UPDATE tickets.inc_history e SET valid_from = s.replayed_from FROM replay_seam s
             WHERE s.same AND e.ticket_id = s.ticket_id AND e.valid_from = s.recorded_from;
             INSERT INTO tickets.inc_history SELECT r.* FROM replay_history r
             WHERE NOT EXISTS (SELECT 1 FROM replay_seam s WHERE s.same
                               AND s.ticket_id = r.ticket_id AND s.replayed_from = r.valid_from);",
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query_scalar(
        "SELECT count(*) FROM replay_history r
         WHERE NOT EXISTS (SELECT 1 FROM replay_seam s WHERE s.same
                           AND s.ticket_id = r.ticket_id AND s.replayed_from = r.valid_from)",
    )
    .fetch_one(conn)
    .await
}
