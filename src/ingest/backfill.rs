//! `fleettickets history backfill`: the archived snapshots older than the recorded history
//! replayed, in key-time order, into the history alone. Each snapshot is cleaned by the
//! import's own reader and diffed in memory against the replay's current versions with
//! the rules of `ingest::upsert` (newer-row guard, unchanged hash, tracked fields, the
//! same instant replacing a version), and the versions are streamed to PostgreSQL by
//! COPY. One transaction under the ingest lock; two snapshots read at a time.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};

use super::bucket::{Bucket, BucketError, Pending};
use super::clean::Cleaning;
use super::progress::Step;
use super::{read_rows, ImportError, Mode};
use crate::db::lock::IngestLock;
use crate::history::capture::encode_version;
use crate::ticket::columns::TRACKED;
use crate::ticket::copy::encode_tracked;
use crate::ticket::CleanRow;

/// Versions are sent to PostgreSQL in COPY batches of about this size.
const BATCH_BYTES: usize = 1 << 20;

/// Snapshots downloaded and cleaned ahead of the one being diffed.
const READ_AHEAD: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot read an archived snapshot: {0}")]
    Read(#[source] ImportError),
    #[error("a backfill worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// What a backfill did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BackfillReport {
    pub applied: bool,
    /// Archived snapshots older than the recorded history, replayed.
    pub snapshots: usize,
    /// Archived snapshots that could not be read or are named after the clock: key and
    /// reason.
    pub skipped: Vec<(String, String)>,
    /// Versions added to the history.
    pub versions: i64,
    /// Capture start after the backfill.
    pub capture_started_at: Option<DateTime<Utc>>,
}

/// Replays the archive: applied with the ingest `lock`, else a dry run that writes
/// nothing. `progress` hears each snapshot, read or skipped.
#[tracing::instrument(name = "backfill", skip_all, fields(mode, snapshots, versions))]
pub async fn run(
    pool: &PgPool,
    bucket: &Bucket,
    lock: Option<&IngestLock>,
    mut progress: impl FnMut(&Step),
) -> Result<BackfillReport, BackfillError> {
    let mode = Mode::of(lock);
    tracing::Span::current().record("mode", tracing::field::debug(mode));
    let started = Instant::now();
    let now = Utc::now();
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // Only snapshots older than everything recorded are replayed: what is recorded stays.
    let known_from: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT LEAST((SELECT started_at FROM tickets.history_capture),
                      (SELECT min(valid_from) FROM tickets.inc_history))",
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut report = BackfillReport {
        applied: mode == Mode::Apply,
        ..BackfillReport::default()
    };
    let (archive, future): (Vec<_>, Vec<_>) = bucket
        .archived()
        .await?
        .into_iter()
        .filter(|s| known_from.is_none_or(|k| s.snapshot_at < k))
        .partition(|s| s.snapshot_at <= now);
    // History never runs ahead of the clock (the import caps such a name at it).
    for s in future {
        report
            .skipped
            .push((s.key, "named after the clock: not replayed".into()));
    }
    super::writer_settings(&mut tx).await?;
    // The COPY stays open while every snapshot is read: an operator's command, unbounded.
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE TEMP TABLE replay_history (LIKE tickets.inc_history INCLUDING DEFAULTS)
         ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY replay_history (ticket_id, valid_from, valid_to, {}, import_id) FROM STDIN",
            *TRACKED
        ))
        .await?;
    let total = archive.len();
    let mut replay = Replay::default();
    // Reading runs in a task of its own (its downloads progress while a snapshot is
    // diffed), and the diff on the blocking pool: three threads' work for two cores.
    let (reads, mut read_rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    let reader = tokio::spawn({
        let bucket = bucket.clone();
        async move {
            let mut stream = futures::stream::iter(archive)
                .map(|s| read(&bucket, s))
                .buffered(READ_AHEAD);
            while let Some(read) = stream.next().await {
                if reads.send(read).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut done = 0;
    while let Some(next) = read_rx.recv().await {
        let (snapshot, read) = next?;
        done += 1;
        let note = match read {
            Ok(rows) => {
                let at = snapshot.snapshot_at;
                let diffed = tokio::task::spawn_blocking(move || {
                    let added = replay.apply(&rows, at);
                    (replay, added)
                });
                let added;
                (replay, added) = diffed.await?;
                report.snapshots += 1;
                if replay.out.len() >= BATCH_BYTES {
                    copy.send(std::mem::take(&mut replay.out)).await?;
                }
                format!("{added} versions")
            }
            Err(e) if e.is_bad_file() => {
                let why = e.to_string();
                report.skipped.push((snapshot.key.clone(), why.clone()));
                format!("skipped: {why}")
            }
            Err(e) => {
                copy.abort("backfill stopped").await.ok();
                return Err(BackfillError::Read(e));
            }
        };
        progress(&Step {
            done,
            total,
            elapsed: started.elapsed(),
            key: &snapshot.key,
            note: &note,
        });
    }
    reader.await.ok();
    replay.finish();
    copy.send(replay.out).await?;
    copy.finish().await?;
    report.versions = merge(&mut tx, mode).await?;
    if let (Mode::Apply, Some(oldest)) = (mode, replay.oldest) {
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
            .bind(replay.oldest)
            .fetch_one(&mut *tx)
            .await?;
    // A dry run writes only its temporary table (and the history in `merge` not at
    // all), then rolls it back.
    match mode {
        Mode::Apply => tx.commit().await?,
        Mode::DryRun => tx.rollback().await?,
    }
    if mode == Mode::Apply && report.versions > 0 {
        // The past changed: every replica drops its cached answers.
        crate::events::notify(&mut conn, crate::events::NOT_AN_IMPORT).await;
    }
    let span = tracing::Span::current();
    span.record("snapshots", report.snapshots);
    span.record("versions", report.versions);
    Ok(report)
}

/// One archived snapshot downloaded and cleaned (typed fields only, on a blocking thread),
/// each ticket's last row kept as what the replay compares. The outer error stops the
/// backfill; the inner one skips the snapshot when the file is at fault.
async fn read(bucket: &Bucket, snapshot: Pending) -> Result<(Pending, Read), BackfillError> {
    let file = tempfile::NamedTempFile::new().map_err(BucketError::from)?;
    bucket.download(&snapshot.key, file.path()).await?;
    let (path, key) = (PathBuf::from(file.path()), snapshot.key.clone());
    let rows = tokio::task::spawn_blocking(move || {
        let mut rows = Rows::default();
        read_rows(&path, &key, Cleaning::Typed, |row| {
            rows.push(&row);
            true
        })
        .map(|_| rows.last_per_ticket())
    })
    .await?;
    drop(file);
    Ok((snapshot, rows))
}

/// A snapshot's rows, or why it is skipped.
type Read = Result<Rows, ImportError>;

/// What the replay needs of a snapshot's rows, packed in one buffer (made on the reading
/// thread: the cleaned rows are freed where they were allocated, and the replay frees
/// two allocations a snapshot, not two a row).
#[derive(Default)]
struct Rows {
    /// Ticket ids and tracked fields (COPY text, `encode_tracked`: equal bytes, equal
    /// values), one after the other.
    text: Vec<u8>,
    rows: Vec<Row>,
}

struct Row {
    id: Range<usize>,
    tracked: Range<usize>,
    /// `source_updated_at` in microseconds (what PostgreSQL keeps); None is oldest.
    updated: Option<i64>,
}

impl Rows {
    fn push(&mut self, row: &CleanRow) {
        let start = self.text.len();
        self.text.extend_from_slice(row.ticket_id.as_bytes());
        let id = start..self.text.len();
        encode_tracked(row, &mut self.text);
        self.rows.push(Row {
            tracked: id.end..self.text.len(),
            id,
            updated: row.source_updated_at.map(|t| t.timestamp_micros()),
        });
    }

    /// Each ticket's last row in the file (a repeated id: the later row wins).
    fn last_per_ticket(mut self) -> Rows {
        let text = &self.text;
        // Stable: a ticket's rows stay in file order, so its last is the one kept.
        self.rows
            .sort_by(|a, b| text[a.id.clone()].cmp(&text[b.id.clone()]));
        self.rows.reverse();
        self.rows
            .dedup_by(|later, earlier| text[later.id.clone()] == text[earlier.id.clone()]);
        self
    }

    fn id(&self, row: &Row) -> &str {
        std::str::from_utf8(&self.text[row.id.clone()]).expect("ids are copied from strings")
    }
}

/// A ticket as the replay goes: its stored row's guard field and tracked fields (its
/// current version's) and when that version started.
struct Ticket {
    updated: Option<i64>,
    tracked: Box<[u8]>,
    valid_from: DateTime<Utc>,
}

/// The replay's store in memory; closed versions go to `out` as COPY lines.
#[derive(Default)]
struct Replay {
    tickets: HashMap<String, Ticket>,
    /// The newest version time: history time never goes backwards.
    newest: Option<DateTime<Utc>>,
    /// The first snapshot replayed.
    oldest: Option<DateTime<Utc>>,
    out: Vec<u8>,
}

impl Replay {
    /// One snapshot's rows at its time; returns the versions it recorded. The rules are
    /// `upsert::classified` and `capture::capture`'s: a row older than the stored one is
    /// ignored; any other replaces the stored row, and a new one or one whose tracked
    /// fields differ starts a version (closing the current one, or replacing it when it
    /// starts at the same instant). The import's "unchanged" (same raw row) needs no case
    /// of its own here: the same row has the same tracked fields.
    fn apply(&mut self, rows: &Rows, snapshot_at: DateTime<Utc>) -> usize {
        self.oldest.get_or_insert(snapshot_at);
        let at = self.newest.map_or(snapshot_at, |n| n.max(snapshot_at));
        let mut added = 0;
        for row in &rows.rows {
            let (id, tracked) = (rows.id(row), &rows.text[row.tracked.clone()]);
            match self.tickets.get_mut(id) {
                None => {
                    added += 1;
                    let ticket = Ticket {
                        updated: row.updated,
                        tracked: tracked.into(),
                        valid_from: at,
                    };
                    self.tickets.insert(id.to_owned(), ticket);
                }
                Some(t) if t.updated > row.updated => {}
                Some(t) if *t.tracked == *tracked => t.updated = row.updated,
                Some(t) => {
                    added += 1;
                    if t.valid_from < at {
                        encode_version(id, t.valid_from, Some(at), &t.tracked, &mut self.out);
                    }
                    t.updated = row.updated;
                    t.tracked = tracked.into();
                    t.valid_from = at;
                }
            }
        }
        if added > 0 {
            self.newest = Some(at);
        }
        added
    }

    /// The current versions, still open, to `out`.
    fn finish(&mut self) {
        for (id, t) in self.tickets.drain() {
            encode_version(&id, t.valid_from, None, &t.tracked, &mut self.out);
        }
    }
}

/// Joins each replayed chain to the recorded history: its last version ends where the
/// ticket's first recorded version starts, or, when that one only repeats it, the two
/// are one version (no flow at the seam). Applied, the replayed versions are added.
/// Returns how many versions that adds.
async fn merge(conn: &mut PgConnection, mode: Mode) -> sqlx::Result<i64> {
    let tracked = |p: &str| crate::ticket::columns::list(p, true);
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
