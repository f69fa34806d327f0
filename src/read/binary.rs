//! A ticket's values read straight from PostgreSQL's binary format by their declared
//! kind, from a result row or a binary `COPY` tuple (`copy`): sqlx's `try_get` checks
//! each value's type against the Rust type's list of compatible ones first, which was
//! the largest single cost of decoding the 30,000 rows of a recorded miss at 1M tickets.
//! Debug builds check a result column's type instead; a value in text format goes
//! through sqlx's decoder.

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgRow, PgValueFormat, PgValueRef};
use sqlx::{Decode, Postgres, Row, TypeInfo, ValueRef};

use crate::ticket::Text;

/// A field kind's Rust type, read from its column's binary form.
pub trait Kind: Sized + for<'r> Decode<'r, Postgres> {
    /// The column's type, as sqlx names it.
    const PG: &'static str;

    fn read(bytes: &[u8]) -> Result<Self, BoxDynError>;
}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], BoxDynError> {
    Ok(bytes.try_into()?)
}

impl Kind for Text {
    const PG: &'static str = "TEXT";

    fn read(bytes: &[u8]) -> Result<Text, BoxDynError> {
        Ok(Text::from(std::str::from_utf8(bytes)?))
    }
}

impl Kind for bool {
    const PG: &'static str = "BOOL";

    fn read(bytes: &[u8]) -> Result<bool, BoxDynError> {
        Ok(array::<1>(bytes)?[0] != 0)
    }
}

impl Kind for i32 {
    const PG: &'static str = "INT4";

    fn read(bytes: &[u8]) -> Result<i32, BoxDynError> {
        Ok(i32::from_be_bytes(array(bytes)?))
    }
}

impl Kind for f64 {
    const PG: &'static str = "FLOAT8";

    fn read(bytes: &[u8]) -> Result<f64, BoxDynError> {
        Ok(f64::from_be_bytes(array(bytes)?))
    }
}

impl Kind for DateTime<Utc> {
    const PG: &'static str = "TIMESTAMPTZ";

    /// Microseconds since 2000-01-01T00:00:00Z.
    fn read(bytes: &[u8]) -> Result<DateTime<Utc>, BoxDynError> {
        const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
        i64::from_be_bytes(array(bytes)?)
            .checked_add(POSTGRES_EPOCH_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| "timestamptz out of chrono's range".into())
    }
}

/// The column `at` of `row` as a nullable `T`.
pub fn column<T: Kind>(row: &PgRow, at: usize) -> sqlx::Result<Option<T>> {
    let value: PgValueRef<'_> = row.try_get_raw(at)?;
    debug_assert_eq!(value.type_info().name(), T::PG, "column {at}");
    if value.is_null() {
        return Ok(None);
    }
    let decoded = match value.format() {
        PgValueFormat::Binary => value.as_bytes().and_then(T::read),
        PgValueFormat::Text => T::decode(value),
    };
    decoded
        .map(Some)
        .map_err(|source| sqlx::Error::ColumnDecode {
            index: at.to_string(),
            source,
        })
}
