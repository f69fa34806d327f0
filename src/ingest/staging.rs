//! The staging table a snapshot is copied into (COPY text, one line per cleaned row),
//! dropped at the end of the import's transaction.

use std::sync::LazyLock;

use sqlx::PgConnection;

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

pub const COPY_STAGING: &str = "COPY inc_staging FROM STDIN";

pub async fn create_staging(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query(&STAGING_DDL).execute(conn).await.map(drop)
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
