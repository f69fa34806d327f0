//! Freshness: how current the data is, from the import records.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::round;
use crate::eat::EatTime;

/// What the import records say (read from `tickets.import_meta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ImportState {
    pub last_import_at: Option<DateTime<Utc>>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub source_key: Option<String>,
    pub source_etag: Option<String>,
    pub snapshot_at: Option<DateTime<Utc>>,
    pub truncated: Option<bool>,
    pub content_max_updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Freshness {
    /// When the last import that wrote rows finished.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_import_at: Option<EatTime>,
    /// When a snapshot was last checked (imported, or found unchanged by its ETag).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_checked_at: Option<EatTime>,
    pub source_key: Option<String>,
    pub source_etag: Option<String>,
    /// The export time parsed from the snapshot's key.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub snapshot_at: Option<EatTime>,
    /// The snapshot ended in the `EXPORT STOPPED` sentinel.
    pub truncated: Option<bool>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub content_max_updated_at: Option<EatTime>,
    /// as_of − content_max_updated_at, 1 decimal.
    pub content_lag_hours: Option<f64>,
    /// `last_checked_at` is older than the staleness limit, or missing.
    pub stale: bool,
}

impl Freshness {
    pub fn at(state: &ImportState, as_of: DateTime<Utc>, stale_after: Duration) -> Freshness {
        let lag = state.content_max_updated_at.map(|t| {
            let micros = (as_of - t).num_microseconds().unwrap_or(i64::MAX);
            round::ratio(i128::from(micros), 3_600_000_000, 1)
        });
        Freshness {
            last_import_at: state.last_import_at.map(EatTime),
            last_checked_at: state.last_checked_at.map(EatTime),
            source_key: state.source_key.clone(),
            source_etag: state.source_etag.clone(),
            snapshot_at: state.snapshot_at.map(EatTime),
            truncated: state.truncated,
            content_max_updated_at: state.content_max_updated_at.map(EatTime),
            content_lag_hours: lag,
            stale: state
                .last_checked_at
                .is_none_or(|t| as_of - t > stale_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_after_the_limit_or_when_never_checked() {
        let as_of = DateTime::parse_from_rfc3339("2026-06-16T10:00:00+03:00")
            .unwrap()
            .with_timezone(&Utc);
        let limit = Duration::hours(3);
        assert!(Freshness::at(&ImportState::default(), as_of, limit).stale);
        let state = |checked: Duration| ImportState {
            last_checked_at: Some(as_of - checked),
            content_max_updated_at: Some(as_of - Duration::minutes(2877)), // 47.95 h
            ..ImportState::default()
        };
        let f = Freshness::at(&state(Duration::hours(3)), as_of, limit);
        assert!(!f.stale, "exactly at the limit is still fresh");
        assert_eq!(f.content_lag_hours, Some(48.0));
        assert!(
            Freshness::at(
                &state(Duration::hours(3) + Duration::milliseconds(1)),
                as_of,
                limit
            )
            .stale
        );
    }
}
