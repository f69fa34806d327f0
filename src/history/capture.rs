//! History capture (`history.md`): the versions an import records and closes, as SQL
//! fragments over the caller's relations (the import's upsert, the backfill bench), the
//! instant they are valid from, and a version's COPY line (the backfill).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::lock::IngestLock;
use crate::ticket::columns;
use crate::ticket::copy::Field;

/// The tables one replay of snapshots writes: the live store, or a backfill's
/// temporary copies (`ingest::backfill`), so both go through the same statements.
#[derive(Debug, Clone, Copy)]
pub struct Store {
    /// Holds each ticket's `row_hash` and `source_updated_at` (the newer-row guard).
    pub tickets: &'static str,
    /// Shaped like `tickets.inc_history`.
    pub history: &'static str,
}

pub const LIVE: Store = Store {
    tickets: "tickets.inc",
    history: "tickets.inc_history",
};

/// History capture over the rows `written` (a relation with the staging columns): a new
/// version, valid from `$1` and recorded by import `$2`, for each ticket without a
/// current version or whose tracked fields differ from it; the current one is closed.
/// With `write` false only `v` (the versions that would be recorded) is defined.
pub fn capture(store: Store, written: &str, write: bool) -> String {
    let history = store.history;
    // The stored row's tracked fields are its current version's (the same statement
    // writes both), so only `retracked` rows can need a version: an hourly import
    // rewrites every ticket (`last_seen` moves) but a few hundred change a tracked field.
    // Their current version is looked up one by one (LATERAL … LIMIT 1 stays an index
    // probe whatever the estimates) and closed by its row address.
    let v = format!(
        "v AS (SELECT x.*, h.ctid AS current_ctid FROM {written} x
               LEFT JOIN LATERAL (SELECT h.ctid, {h} FROM {history} h
                                  WHERE h.ticket_id = x.ticket_id AND h.valid_to IS NULL
                                  LIMIT 1) h ON true
               WHERE x.retracked AND (h.ctid IS NULL OR {differ}))",
        h = columns::list("h.", true),
        differ = columns::tracked_differ("h", "x"),
    );
    if !write {
        return v;
    }
    // A version recorded at the same instant as the current one (history time never goes
    // backwards, so two imports can share it) replaces it: it was never valid.
    format!(
        "{v},
         closed AS (UPDATE {history} h SET valid_to = $1
                    WHERE h.ctid = ANY (ARRAY(SELECT current_ctid FROM v WHERE current_ctid IS NOT NULL))
                      AND h.valid_to IS NULL AND h.valid_from < $1),
         added AS (INSERT INTO {history} AS h (ticket_id, valid_from, {tracked}, import_id)
                   SELECT v.ticket_id, $1, {v_tracked}, $2 FROM v
                   ON CONFLICT (ticket_id, valid_from) DO UPDATE SET {set_tracked},
                       import_id = EXCLUDED.import_id
                   RETURNING 1)",
        tracked = *columns::TRACKED,
        v_tracked = columns::list("v.", true),
        set_tracked = columns::set_excluded(true),
    )
}

/// The instant a version recorded now is valid from: `wanted` (the snapshot time, else
/// the import's start), or the newest time already recorded when that is later.
pub async fn history_time(
    conn: &mut PgConnection,
    store: Store,
    wanted: DateTime<Utc>,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(&format!(
        "SELECT GREATEST($1, (SELECT max(valid_from) FROM {}))",
        store.history
    ))
    .bind(wanted)
    .fetch_one(conn)
    .await
}

/// Marks capture as started at `at` unless it already has.
pub async fn start_capture(
    conn: &mut PgConnection,
    _lock: &IngestLock,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tickets.history_capture (started_at) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind(at)
    .execute(conn)
    .await
    .map(drop)
}

/// One line of `COPY … (ticket_id, valid_from, valid_to, <tracked>, import_id)`, with
/// `tracked` as `encode_tracked` wrote it and no import.
pub fn encode_version(
    ticket_id: &str,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    tracked: &[u8],
    out: &mut Vec<u8>,
) {
    let mut field = Field(out);
    field.text(ticket_id);
    field.time(Some(from));
    field.time(to);
    field.0.extend_from_slice(tracked);
    field.0.extend_from_slice(b"\\N\n");
}
