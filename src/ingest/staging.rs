//! The staging table a snapshot is copied into (COPY text, one line per cleaned row),
//! dropped at the end of the import's transaction.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use sqlx::PgConnection;
use tokio::sync::mpsc;

use super::clean::{Cleaning, RowStats};
use super::read::read_rows;
use super::{ImportError, Mode};
use crate::geocode::names::{ticket_location_query, Aliases};

use crate::ticket::columns;
use crate::ticket::copy::Field;
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

/// Staging rows are sent to PostgreSQL in chunks of about this size, so memory stays
/// bounded whatever the file's size.
const BATCH_BYTES: usize = 1 << 20;

pub const COPY_STAGING: &str = "COPY inc_staging FROM STDIN";

pub async fn create_staging(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query(&STAGING_DDL).execute(conn).await.map(drop)
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
    create_staging(conn).await?;
    if mode == Mode::DryRun {
        // From here on only temporary tables can be written: the proof of a dry run.
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *conn)
            .await?;
    }
    let mut copy = conn.copy_in_raw(COPY_STAGING).await?;
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
        encode_row(ord, &row, &mut buf);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::columns::COLUMNS;

    #[test]
    fn encodes_copy_text_with_escapes_and_nulls() {
        let row = CleanRow {
            ticket_id: "INC1".into(),
            raw: r#"{"location_name":"a\tb\\c"}"#.into(),
            location_name: Some("line1\nline2\r".into()),
            is_actionable: Some(true),
            mttr: Some(345),
            source_updated_at: crate::eat::parse_local("2026-06-16 07:15:02"),
            feed_lat: Some(-1.2676),
            feed_lon: Some(36.8108),
            ..CleanRow::default()
        };
        let mut out = Vec::new();
        encode_row(7, &row, &mut out);
        let text = String::from_utf8(out).unwrap();
        let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
        // Import id, ticket id, raw, hash, the declared columns, the feed point.
        let at = |name: &str| 4 + COLUMNS.iter().position(|c| c.name == name).unwrap();
        assert_eq!(fields.len(), 4 + COLUMNS.len() + 2);
        assert_eq!(
            fields[..3],
            ["7", "INC1", r#"{"location_name":"a\\tb\\\\c"}"#]
        );
        // The XXH3-128 of the raw text (before COPY escaping), as a UUID.
        assert_eq!(fields[3], &row_hash(r#"{"location_name":"a\tb\\c"}"#));
        assert_eq!(fields[3].len(), 36);
        assert_ne!(row_hash("{}"), row_hash("{ }"));
        assert_eq!(fields[at("normalized_status")], "\\N");
        assert_eq!(fields[at("is_actionable")], "t");
        assert_eq!(fields[at("location_name")], "line1\\nline2\\r");
        assert_eq!(fields[at("mttr")], "345");
        assert_eq!(
            fields[at("source_updated_at")],
            "2026-06-16 04:15:02.000000+00"
        );
        assert_eq!(
            fields[at("location_query")..],
            ["\\N", "-1.2676", "36.8108"]
        );
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
