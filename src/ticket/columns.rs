//! The columns an import writes (the declared fields of origin `csv` and `importer`,
//! `ticket::fields`), with their accessors on `CleanRow`. The staging table, the typed
//! column list shared by staging and `tickets.inc`, the COPY encoder's field order,
//! cleaning's header lookup and the history's tracked fields all come from `COLUMNS`.

use std::ops::Deref;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::fields::{select_fields, Field};
use super::{values, CleanRow};
use crate::eat;

/// One typed value of a cleaned row, as the COPY encoder writes it.
pub enum Value<'a> {
    Text(Option<&'a str>),
    Bool(Option<bool>),
    Int(Option<i32>),
    Time(Option<DateTime<Utc>>),
}

impl Value<'_> {
    /// Not null.
    pub fn is_some(&self) -> bool {
        match self {
            Value::Text(v) => v.is_some(),
            Value::Bool(v) => v.is_some(),
            Value::Int(v) => v.is_some(),
            Value::Time(v) => v.is_some(),
        }
    }
}

/// A column an import writes: its declared field and its accessors.
pub struct Column {
    pub field: Field,
    pub value: fn(&CleanRow) -> Value<'_>,
    /// Reads a cleaned CSV value into the row; `false` if it is unreadable (then null).
    pub read: fn(&mut CleanRow, &str) -> bool,
}

impl Deref for Column {
    type Target = Field;

    fn deref(&self) -> &Field {
        &self.field
    }
}

/// A field's value as the COPY encoder writes it.
pub trait AsValue {
    fn value(&self) -> Value<'_>;
}

impl AsValue for Option<String> {
    fn value(&self) -> Value<'_> {
        Value::Text(self.as_deref())
    }
}

impl AsValue for Option<bool> {
    fn value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
}

impl AsValue for Option<i32> {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl AsValue for Option<DateTime<Utc>> {
    fn value(&self) -> Value<'_> {
        Value::Time(*self)
    }
}

/// A field's value read from its cleaned CSV text (`inc-csv.md`); `None` if unreadable.
pub trait Read: Sized {
    fn read(text: &str) -> Option<Self>;
}

impl Read for String {
    fn read(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl Read for bool {
    fn read(text: &str) -> Option<Self> {
        values::boolean(text)
    }
}

/// The only integer field is a duration given in decimal hours, kept in minutes.
impl Read for i32 {
    fn read(text: &str) -> Option<Self> {
        values::mttr_minutes(text)
    }
}

impl Read for DateTime<Utc> {
    fn read(text: &str) -> Option<Self> {
        eat::parse_local(text)
    }
}

macro_rules! column_table {
    ([$({ $(#[$a:meta])* $n:ident $($decl:tt)* })*]) => {
        /// The typed columns, in staging (and COPY) order.
        pub const COLUMNS: &[Column] = &[$(Column {
            field: super::fields::field!($n $($decl)*),
            value: |r| AsValue::value(&r.$n),
            read: |r, text| {
                r.$n = Read::read(text);
                r.$n.is_some()
            },
        }),*];
    };
}

select_fields!(stored => column_table! {});

/// `each` of the typed (or only the tracked) columns, comma-separated.
fn joined(tracked_only: bool, each: impl Fn(&Column) -> String) -> String {
    COLUMNS
        .iter()
        .filter(|c| c.tracked || !tracked_only)
        .map(each)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns' names, each with `prefix`, comma-separated; only tracked ones if asked.
pub fn list(prefix: &str, tracked_only: bool) -> String {
    joined(tracked_only, |c| format!("{prefix}{}", c.name))
}

/// Every typed column: `normalized_status, raw_status, …`.
pub static TYPED: LazyLock<String> = LazyLock::new(|| list("", false));

/// The history's tracked fields: `normalized_status, is_actionable, …`.
pub static TRACKED: LazyLock<String> = LazyLock::new(|| list("", true));

/// `name type, …` for a table definition.
pub fn definitions(tracked_only: bool) -> String {
    joined(tracked_only, |c| format!("{} {}", c.name, c.kind.sql()))
}

/// `col = EXCLUDED.col, …` over the typed (or only the tracked) columns.
pub fn set_excluded(tracked_only: bool) -> String {
    joined(tracked_only, |c| format!("{0} = EXCLUDED.{0}", c.name))
}

/// `ROW(a.tracked…) IS DISTINCT FROM ROW(b.tracked…)`: the tracked fields of the
/// relations aliased `a` and `b` differ (nulls compared as values).
pub fn tracked_differ(a: &str, b: &str) -> String {
    format!(
        "ROW({}) IS DISTINCT FROM ROW({})",
        list(&format!("{a}."), true),
        list(&format!("{b}."), true)
    )
}
