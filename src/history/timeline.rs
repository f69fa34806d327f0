//! A ticket's timeline (`timetravel.md`): its versions, oldest first, each with the
//! tracked fields that differ from the previous one. Pure: the rows come from `read`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::eat::EatTime;
use crate::ticket::fields::ticket_struct;

ticket_struct!(tracked, serial; [
    /// A version's tracked fields (`history.md`; declared in `ticket::fields`).
    #[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
    pub struct Tracked
] {} {});

/// One version as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Recorded {
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub import_id: Option<i64>,
    #[sqlx(flatten)]
    pub fields: Tracked,
}

/// The payload of `GET /api/v1/inc/tickets/{ticket_id}/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub ticket_id: String,
    /// The first instant the history knows; null before anything was recorded.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub capture_started_at: Option<EatTime>,
    /// Oldest first.
    pub versions: Vec<TimelineVersion>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineVersion {
    #[schema(value_type = String, format = DateTime)]
    pub valid_from: EatTime,
    /// Null while current.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_to: Option<EatTime>,
    /// The import that recorded it; null for a version a backfill replayed.
    pub import_id: Option<i64>,
    /// The tracked fields that differ from the previous version (all for the first),
    /// by name.
    pub changed: Vec<String>,
    pub fields: Tracked,
}

/// The field names of `Tracked` with their values, by name.
fn entries(t: &Tracked) -> Vec<(String, Value)> {
    match serde_json::to_value(t) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The timeline of `versions` (oldest first).
pub fn timeline(
    ticket_id: String,
    capture_started_at: Option<DateTime<Utc>>,
    versions: Vec<Recorded>,
) -> Timeline {
    let mut previous: Option<Vec<(String, Value)>> = None;
    let versions = versions
        .into_iter()
        .map(|v| {
            let now = entries(&v.fields);
            let changed = now
                .iter()
                .filter(|(name, value)| {
                    previous.as_ref().is_none_or(|before| {
                        before.iter().find(|(n, _)| n == name).map(|(_, b)| b) != Some(value)
                    })
                })
                .map(|(name, _)| name.clone())
                .collect();
            previous = Some(now);
            TimelineVersion {
                valid_from: EatTime(v.valid_from),
                valid_to: v.valid_to.map(EatTime),
                import_id: v.import_id,
                changed,
                fields: v.fields,
            }
        })
        .collect();
    Timeline {
        ticket_id,
        capture_started_at: capture_started_at.map(EatTime),
        versions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eat::instant;

    fn version(from: &str, status: &str, team: &str) -> Recorded {
        Recorded {
            valid_from: instant(from),
            valid_to: None,
            import_id: Some(1),
            fields: Tracked {
                normalized_status: Some(status.into()),
                is_actionable: Some(status != "CLOSED"),
                cluster: Some("Karen".into()),
                assigned_team: Some(team.into()),
                ..Tracked::default()
            },
        }
    }

    #[test]
    fn tracked_is_the_history_declaration() {
        let names: Vec<String> = entries(&version("2026-06-16T08:00:00Z", "OPEN", "A").fields)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let mut declared: Vec<&str> = crate::ticket::columns::TRACKED.split(", ").collect();
        declared.sort_unstable();
        assert_eq!(names, declared);
    }

    #[test]
    fn changed_lists_the_fields_that_differ_from_the_previous_version() {
        let t = timeline(
            "INC1".into(),
            None,
            vec![
                version("2026-06-16T08:00:00Z", "OPEN", "A"),
                version("2026-06-16T09:00:00Z", "OPEN", "B"),
                version("2026-06-16T10:00:00Z", "CLOSED", "B"),
            ],
        );
        let changed: Vec<Vec<String>> = t.versions.iter().map(|v| v.changed.clone()).collect();
        let tracked = crate::ticket::fields::FIELDS.iter().filter(|f| f.tracked);
        assert_eq!(
            changed[0].len(),
            tracked.count(),
            "all for the first: {:?}",
            changed[0]
        );
        assert_eq!(changed[1], ["assigned_team"]);
        assert_eq!(changed[2], ["is_actionable", "normalized_status"]);
    }
}
