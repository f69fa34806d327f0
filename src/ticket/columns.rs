//! The ticket's typed fields, declared once. The staging table, the typed column list
//! shared by staging and `tickets.inc`, the COPY encoder's field order and the history's
//! tracked fields are all derived from `COLUMNS`: a new field is one entry here (plus its
//! `CleanRow` field and its migration).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::{CleanRow, Stamp};

/// One typed value of a cleaned row, as the COPY encoder writes it.
pub enum Value<'a> {
    Text(Option<&'a str>),
    Bool(Option<bool>),
    Int(Option<i32>),
    Time(Option<DateTime<Utc>>),
}

/// A typed column of `tickets.inc` (and of the staging table).
pub struct Column {
    pub name: &'static str,
    pub sql_type: &'static str,
    /// Recorded in `tickets.inc_history` (`history.md`'s tracked fields).
    pub tracked: bool,
    pub value: fn(&CleanRow) -> Value<'_>,
}

const fn column(
    name: &'static str,
    sql_type: &'static str,
    tracked: bool,
    value: fn(&CleanRow) -> Value<'_>,
) -> Column {
    Column {
        name,
        sql_type,
        tracked,
        value,
    }
}

const fn text(name: &'static str, tracked: bool, value: fn(&CleanRow) -> Value<'_>) -> Column {
    column(name, "text", tracked, value)
}

const fn time(name: &'static str, tracked: bool, value: fn(&CleanRow) -> Value<'_>) -> Column {
    column(name, "timestamptz", tracked, value)
}

fn stamp(row: &CleanRow, s: Stamp) -> Value<'_> {
    Value::Time(row.stamp(s))
}

/// The typed columns, in staging (and COPY) order.
pub const COLUMNS: &[Column] = &[
    text("normalized_status", true, |r| {
        Value::Text(r.normalized_status.as_deref())
    }),
    text("raw_status", false, |r| {
        Value::Text(r.raw_status.as_deref())
    }),
    text("bucket", false, |r| Value::Text(r.bucket.as_deref())),
    column("is_actionable", "boolean", true, |r| {
        Value::Bool(r.is_actionable)
    }),
    text("cluster", true, |r| Value::Text(r.cluster.as_deref())),
    text("region", true, |r| Value::Text(r.region.as_deref())),
    text("location_name", false, |r| {
        Value::Text(r.location_name.as_deref())
    }),
    text("assigned_team", true, |r| {
        Value::Text(r.assigned_team.as_deref())
    }),
    text("owner", true, |r| Value::Text(r.owner.as_deref())),
    text("sla_status", true, |r| Value::Text(r.sla_status.as_deref())),
    column("mttr", "integer", true, |r| Value::Int(r.mttr)),
    time("created_at_service", true, |r| {
        stamp(r, Stamp::CreatedAtService)
    }),
    time("scheduled_at", false, |r| stamp(r, Stamp::ScheduledAt)),
    time("closed_at", true, |r| stamp(r, Stamp::ClosedAt)),
    time("first_seen_at", true, |r| stamp(r, Stamp::FirstSeenAt)),
    time("last_seen_at", false, |r| stamp(r, Stamp::LastSeenAt)),
    time("source_created_at", false, |r| {
        stamp(r, Stamp::SourceCreatedAt)
    }),
    time("source_updated_at", false, |r| {
        stamp(r, Stamp::SourceUpdatedAt)
    }),
    text("location_query", false, |r| {
        Value::Text(r.location_query.as_deref())
    }),
];

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
    joined(tracked_only, |c| format!("{} {}", c.name, c.sql_type))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tracked_fields_are_the_specs() {
        assert_eq!(
            *TRACKED,
            "normalized_status, is_actionable, cluster, region, assigned_team, owner, sla_status, \
             mttr, created_at_service, closed_at, first_seen_at"
        );
        assert_eq!(COLUMNS.len(), 19);
    }
}
