//! The COPY text format of a ticket's fields, written straight into a buffer: the
//! import's staging rows (`ingest::staging`) and the history's versions
//! (`history::capture`) are both sent this way.

use chrono::{DateTime, Utc};

use super::columns::{Value, COLUMNS};
use super::CleanRow;

/// The tracked fields of `row` in COPY text, each followed by a tab: equal bytes are
/// equal values in PostgreSQL (times are written to the microsecond it keeps).
pub fn encode_tracked(row: &CleanRow, out: &mut Vec<u8>) {
    Field(out).columns(row, true);
}

/// Writes `YYYY-MM-DD HH:MM:SS.ffffff+00`, which PostgreSQL reads whatever its settings,
/// straight into `out` (no string per value: a backfill writes millions).
pub fn push_utc(out: &mut Vec<u8>, t: DateTime<Utc>) {
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

/// Writes tab-terminated COPY text fields into a buffer.
pub struct Field<'a>(pub &'a mut Vec<u8>);

impl Field<'_> {
    pub fn text(&mut self, value: &str) {
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
    pub fn columns(&mut self, row: &CleanRow, tracked_only: bool) {
        for column in COLUMNS.iter().filter(|c| c.tracked || !tracked_only) {
            match (column.value)(row) {
                Value::Text(v) => self.opt(v),
                Value::Bool(v) => self.opt(v.map(|b| if b { "t" } else { "f" })),
                Value::Int(v) => self.int(v),
                Value::Time(v) => self.time(v),
            }
        }
    }

    pub fn int(&mut self, value: Option<i32>) {
        use std::io::Write;
        match value {
            Some(v) => write!(self.0, "{v}\t").expect("writing to a Vec cannot fail"),
            None => self.opt(None),
        }
    }

    pub fn time(&mut self, value: Option<DateTime<Utc>>) {
        match value {
            Some(t) => {
                push_utc(self.0, t);
                self.0.push(b'\t');
            }
            None => self.opt(None),
        }
    }

    pub fn opt(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.text(v),
            None => self.0.extend_from_slice(b"\\N\t"),
        }
    }
}
