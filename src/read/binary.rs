//! A ticket row's values read straight from PostgreSQL's binary result format, by the
//! declared kind of their column: sqlx's `try_get` checks each value's type against the
//! Rust type's list of compatible ones first, which was the largest single cost of
//! decoding the 30,000 rows of a recorded miss at 1M tickets. Debug builds check the
//! column's type instead; a value in text format goes through sqlx's decoder.

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgRow, PgValueFormat, PgValueRef};
use sqlx::{Decode, Postgres, Row, TypeInfo, ValueRef};

use crate::ticket::Text;

/// The column `at` of `row` as a nullable `T`, its binary form read by `read` when the
/// column is of type `pg` (sqlx's name).
fn value<'r, T: Decode<'r, Postgres>>(
    row: &'r PgRow,
    at: usize,
    pg: &str,
    read: impl FnOnce(&'r [u8]) -> Result<T, BoxDynError>,
) -> sqlx::Result<Option<T>> {
    let value: PgValueRef<'r> = row.try_get_raw(at)?;
    debug_assert_eq!(value.type_info().name(), pg, "column {at}");
    if value.is_null() {
        return Ok(None);
    }
    let decoded = match value.format() {
        PgValueFormat::Binary => value.as_bytes().and_then(read),
        PgValueFormat::Text => T::decode(value),
    };
    decoded
        .map(Some)
        .map_err(|source| sqlx::Error::ColumnDecode {
            index: at.to_string(),
            source,
        })
}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], BoxDynError> {
    Ok(bytes.try_into()?)
}

pub fn text(row: &PgRow, at: usize) -> sqlx::Result<Option<Text>> {
    value(row, at, "TEXT", |b| Ok(Text::from(std::str::from_utf8(b)?)))
}

pub fn flag(row: &PgRow, at: usize) -> sqlx::Result<Option<bool>> {
    value(row, at, "BOOL", |b| Ok(array::<1>(b)?[0] != 0))
}

pub fn minutes(row: &PgRow, at: usize) -> sqlx::Result<Option<i32>> {
    value(row, at, "INT4", |b| Ok(i32::from_be_bytes(array(b)?)))
}

pub fn degrees(row: &PgRow, at: usize) -> sqlx::Result<Option<f64>> {
    value(row, at, "FLOAT8", |b| Ok(f64::from_be_bytes(array(b)?)))
}

/// Microseconds since 2000-01-01T00:00:00Z.
pub fn time(row: &PgRow, at: usize) -> sqlx::Result<Option<DateTime<Utc>>> {
    const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
    value(row, at, "TIMESTAMPTZ", |b| {
        i64::from_be_bytes(array(b)?)
            .checked_add(POSTGRES_EPOCH_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| "timestamptz out of chrono's range".into())
    })
}
