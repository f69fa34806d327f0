//! Writing a cleaned snapshot: COPY into a temporary staging table, then one set-based
//! upsert into `tickets.inc`, inside the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use std::sync::LazyLock;

use super::clean::RowStats;
use crate::db::lock::IngestLock;
use crate::geocode::resolve::{POINT_COLUMNS, POINT_JOINS};
use crate::ticket::columns::{self, Value, COLUMNS, TYPED};
use crate::ticket::CleanRow;

/// The staging table: the ticket's key, raw text and hash, the typed columns of
/// `columns::COLUMNS`, and the feed point (in COPY order).
static STAGING_DDL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "CREATE TEMP TABLE inc_staging (
             ord bigint NOT NULL, ticket_id text NOT NULL, raw text NOT NULL, row_hash uuid NOT NULL,
             {}, feed_lat double precision, feed_lon double precision
         ) ON COMMIT DROP",
        columns::definitions(false)
    )
});

pub const COPY_STAGING: &str = "COPY inc_staging FROM STDIN";

/// "The stored row is strictly newer" — a null `source_updated_at` counts as oldest.
const STORED_IS_NEWER: &str =
    "COALESCE(t.source_updated_at, '-infinity') > COALESCE(s.source_updated_at, '-infinity')";

pub async fn create_staging(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query(&STAGING_DDL).execute(conn).await.map(drop)
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

/// The tables one replay of snapshots writes: the live store, or a backfill's
/// temporary copies (`history::backfill`), so both go through the same statements.
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
                              WHEN {STORED_IS_NEWER} THEN 'older'
                              WHEN t.row_hash = s.row_hash THEN 'unchanged'
                              ELSE 'updated' END AS change,
                    t.ticket_id IS NULL OR ROW({t}) IS DISTINCT FROM ROW({s}) AS retracked
             FROM s LEFT JOIN {tickets} t USING (ticket_id))",
        tickets = store.tickets,
        t = columns::list("t.", true),
        s = columns::list("s.", true),
    )
}

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
               WHERE x.retracked AND (h.ctid IS NULL OR ROW({h}) IS DISTINCT FROM ROW({x})))",
        h = columns::list("h.", true),
        x = columns::list("x.", true),
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
        set_tracked = set_excluded(true),
    )
}

/// `col = EXCLUDED.col, …` over the typed (or only the tracked) columns.
pub fn set_excluded(tracked_only: bool) -> String {
    COLUMNS
        .iter()
        .filter(|c| c.tracked || !tracked_only)
        .map(|c| format!("{0} = EXCLUDED.{0}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
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

/// Writes the new and updated tickets in one statement, recording their history
/// versions valid from `at` by import `import_id`; never deletes. Unchanged and older
/// rows are not touched (and their JSON is never parsed).
pub async fn apply(
    conn: &mut PgConnection,
    _lock: &IngestLock,
    at: DateTime<Utc>,
    import_id: i64,
) -> sqlx::Result<Changes> {
    write(conn, at, import_id, true).await
}

/// `apply` without history capture: the history benchmark's baseline (what capture
/// costs an import), never the product's path.
pub async fn apply_without_history(
    conn: &mut PgConnection,
    _lock: &IngestLock,
    at: DateTime<Utc>,
    import_id: i64,
) -> sqlx::Result<Changes> {
    write(conn, at, import_id, false).await
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
        set_typed = set_excluded(false),
        newer = STORED_IS_NEWER.replace("s.", "EXCLUDED."),
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

/// Appends one staging row in COPY text format.
pub fn encode_row(ord: u64, row: &CleanRow, out: &mut Vec<u8>) {
    let mut field = Field(out);
    field.text(&ord.to_string());
    field.text(&row.ticket_id);
    field.text(&row.raw);
    field.text(&row_hash(&row.raw));
    field.columns(row, false);
    let point = row.feed_point();
    field.opt(point.map(|p| p.lat.to_string()).as_deref());
    field.opt(point.map(|p| p.lon.to_string()).as_deref());
    let line = field.0;
    *line.last_mut().expect("fields were written") = b'\n';
}

/// The tracked fields of `row` in COPY text, each followed by a tab: equal bytes are
/// equal values in PostgreSQL (times are written to the microsecond it keeps).
pub fn encode_tracked(row: &CleanRow, out: &mut Vec<u8>) {
    Field(out).columns(row, true);
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

/// A 128-bit hash (XXH3) of the raw JSON text, as a UUID literal: change detection
/// only, where an accidental collision (about 2^-128) is the one risk.
fn row_hash(raw: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(raw.as_bytes());
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Writes `YYYY-MM-DD HH:MM:SS.ffffff+00`, which PostgreSQL reads whatever its settings,
/// straight into `out` (no string per value: a backfill writes millions).
fn push_utc(out: &mut Vec<u8>, t: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    use std::io::Write;
    write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 1000
    )
    .expect("writing to a Vec cannot fail");
}

/// Writes tab-terminated COPY text fields.
struct Field<'a>(&'a mut Vec<u8>);

impl Field<'_> {
    fn text(&mut self, value: &str) {
        let bytes = value.as_bytes();
        let mut start = 0;
        for (i, b) in bytes.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'\\' => b"\\\\",
                b'\t' => b"\\t",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                _ => continue,
            };
            self.0.extend_from_slice(&bytes[start..i]);
            self.0.extend_from_slice(escaped);
            start = i + 1;
        }
        self.0.extend_from_slice(&bytes[start..]);
        self.0.push(b'\t');
    }

    /// The typed columns (or only the tracked ones), in `COLUMNS` order.
    fn columns(&mut self, row: &CleanRow, tracked_only: bool) {
        for column in COLUMNS.iter().filter(|c| c.tracked || !tracked_only) {
            match (column.value)(row) {
                Value::Text(v) => self.opt(v),
                Value::Bool(v) => self.opt(v.map(|b| if b { "t" } else { "f" })),
                Value::Int(v) => self.int(v),
                Value::Time(v) => self.time(v),
            }
        }
    }

    fn int(&mut self, value: Option<i32>) {
        use std::io::Write;
        match value {
            Some(v) => write!(self.0, "{v}\t").expect("writing to a Vec cannot fail"),
            None => self.opt(None),
        }
    }

    fn time(&mut self, value: Option<DateTime<Utc>>) {
        match value {
            Some(t) => {
                push_utc(self.0, t);
                self.0.push(b'\t');
            }
            None => self.opt(None),
        }
    }

    fn opt(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.text(v),
            None => self.0.extend_from_slice(b"\\N\t"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_copy_text_with_escapes_and_nulls() {
        let row = CleanRow {
            ticket_id: "INC1".into(),
            raw: r#"{"location_name":"a\tb\\c"}"#.into(),
            location_name: Some("line1\nline2\r".into()),
            is_actionable: Some(true),
            mttr: Some(345),
            stamps: [
                None,
                None,
                None,
                None,
                None,
                None,
                crate::eat::parse_local("2026-06-16 07:15:02"),
            ],
            feed_lat: Some(-1.2676),
            feed_lon: Some(36.8108),
            ..CleanRow::default()
        };
        let mut out = Vec::new();
        encode_row(7, &row, &mut out);
        let text = String::from_utf8(out).unwrap();
        let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), 25);
        assert_eq!(
            fields[..3],
            ["7", "INC1", r#"{"location_name":"a\\tb\\\\c"}"#]
        );
        // The XXH3-128 of the raw text (before COPY escaping), as a UUID.
        assert_eq!(fields[3], &row_hash(r#"{"location_name":"a\tb\\c"}"#));
        assert_eq!(fields[3].len(), 36);
        assert_ne!(row_hash("{}"), row_hash("{ }"));
        assert_eq!(fields[4], "\\N");
        assert_eq!(fields[7], "t");
        assert_eq!(fields[10], "line1\\nline2\\r");
        assert_eq!(fields[14], "345");
        assert_eq!(fields[21], "2026-06-16 04:15:02.000000+00");
        assert_eq!(fields[22..], ["\\N", "-1.2676", "36.8108"]);
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
    }

    #[test]
    fn invalid_feed_points_are_not_staged() {
        let row = CleanRow {
            ticket_id: "INC1".into(),
            raw: "{}".into(),
            feed_lat: Some(0.0),
            feed_lon: Some(0.0),
            ..CleanRow::default()
        };
        let mut out = Vec::new();
        encode_row(1, &row, &mut out);
        assert!(String::from_utf8(out).unwrap().ends_with("\\N\t\\N\t\\N\n"));
    }
}
