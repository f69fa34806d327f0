//! Time travel (`timetravel.md`): which tickets a payload at `as_of` is computed from.
//! `live` and `clock` use the current rows; `recorded` the versions valid at `as_of`,
//! their tracked fields over the current row's other fields. Pure: no database.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::versions::RecentVersions;
use super::{Rows, SharedRows, WindowRows};
use crate::eat::EatTime;

/// How the payload's tickets were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayMode {
    /// The current rows (`as_of` at or after the newest history time, or no history).
    Live,
    /// The versions valid at `as_of` (capture start ≤ `as_of` < history until).
    Recorded,
    /// Before capture start: the current rows with the clock set back.
    Clock,
}

/// The history's extent: capture start `C` and the newest version time `H`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct HistorySpan {
    pub capture_started_at: Option<DateTime<Utc>>,
    pub history_until: Option<DateTime<Utc>>,
}

/// The `replay` object of every dashboard payload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Replay {
    pub mode: ReplayMode,
    /// Capture start (`C`); null without history.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub capture_started_at: Option<EatTime>,
    /// The newest history time (`H`); null without history.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub history_until: Option<EatTime>,
}

impl Replay {
    /// The mode for `as_of`: `recorded` for `C <= as_of < H`, `clock` before `C`, else
    /// (no history, or at or after `H`, the future included) `live`.
    pub fn at(as_of: DateTime<Utc>, span: HistorySpan) -> Replay {
        let mode = match (span.capture_started_at, span.history_until) {
            (Some(c), _) if as_of < c => ReplayMode::Clock,
            (Some(_), Some(h)) if as_of < h => ReplayMode::Recorded,
            _ => ReplayMode::Live,
        };
        Replay {
            mode,
            capture_started_at: span.capture_started_at.map(EatTime),
            history_until: span.history_until.map(EatTime),
        }
    }
}

/// The rows a payload at a recorded instant is computed from: the recorded tickets (any
/// that can matter: actionable, or closed or created in the window) serve as both its
/// open rows and its window's, since `compute` takes the actionable ones of the former
/// and those closed or created in the window of the latter. One set of rows: at 1M
/// tickets, splitting them into two (and copying the tickets in both) cost more than
/// computing the payload.
pub fn rows(recorded: SharedRows, replay: Replay) -> Rows {
    Rows {
        open: recorded.clone(),
        window: WindowRows::Open(recorded),
        replay,
    }
}

/// The same from the recent history: the versions of `held` that `picked` names
/// (`RecentVersions::at`), read in place.
pub fn held(held: Arc<RecentVersions>, picked: Vec<usize>, replay: Replay) -> Rows {
    Rows {
        open: held.tickets.clone(),
        window: WindowRows::Held(held, picked),
        replay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::Ticket;
    use crate::eat::instant;
    use std::sync::Arc;

    #[test]
    fn recorded_rows_give_the_payload_of_their_open_and_window_sets_apart() {
        use crate::dashboard::freshness::{Freshness, ImportState};
        use crate::dashboard::{compute, Rules};
        use crate::params::parse;
        let at = |s: &str| Some(instant(s));
        let ticket = |id: &str, open: bool, created, closed, cluster: &str| Ticket {
            ticket_id: id.into(),
            normalized_status: Some(if open { "OPEN" } else { "CLOSED" }.into()),
            is_actionable: Some(open),
            cluster: Some(cluster.into()),
            created_at_service: created,
            closed_at: closed,
            sla_status: Some("met".into()),
            ..Ticket::default()
        };
        let (before, inside) = (
            at("2026-06-01T00:00:00+03:00"),
            at("2026-06-10T00:00:00+03:00"),
        );
        // Open before the week; open and created in it; closed in it; closed before it;
        // created in it, not closed; open while closed in the week (in both sets).
        let recorded = vec![
            ticket("A", true, before, None, "Karen"),
            ticket("B", true, inside, None, "Westlands"),
            ticket("C", false, before, inside, "Karen"),
            ticket("D", false, before, before, "Karen"),
            ticket("E", false, inside, None, "Westlands"),
            ticket("F", true, before, inside, "Karen"),
        ];
        let rules = Rules {
            sla_target_hours: 24.0,
            stale_after: chrono::Duration::hours(3),
        };
        let as_of = instant("2026-06-12T00:00:00+03:00");
        let replay = Replay::at(as_of, HistorySpan::default());
        for query in ["window=week", "window=week&cluster=karen", "window=today"] {
            let request =
                parse(&format!("{query}&as_of=2026-06-12T00:00:00%2B03:00"), as_of).unwrap();
            let payload = |rows| {
                let fresh = Freshness::at(&ImportState::default(), as_of, rules.stale_after);
                let p = compute(rows, &request, fresh, &rules);
                serde_json::to_value(p.to_dashboard()).unwrap()
            };
            let window = &request.window;
            let in_window = |t: &&Ticket| {
                [t.closed_at, t.created_at_service]
                    .into_iter()
                    .flatten()
                    .any(|c| window.contains(c))
            };
            let apart = Rows {
                open: Arc::new(recorded.iter().filter(|t| t.is_open()).cloned().collect()),
                window: recorded
                    .iter()
                    .filter(in_window)
                    .cloned()
                    .collect::<Vec<_>>()
                    .into(),
                replay,
            };
            assert_eq!(
                payload(rows(recorded.clone().into(), replay)),
                payload(apart),
                "{query}"
            );
        }
        let week = parse("window=week&as_of=2026-06-12T00:00:00%2B03:00", as_of).unwrap();
        let fresh = Freshness::at(&ImportState::default(), as_of, rules.stale_after);
        let p = compute(rows(recorded.into(), replay), &week, fresh, &rules);
        let open: Vec<&str> = p.open().map(|o| o.ticket.ticket_id.as_str()).collect();
        let closed: Vec<&str> = p.closed().map(|(t, _)| t.ticket_id.as_str()).collect();
        assert_eq!((open, closed), (vec!["A", "B", "F"], vec!["C", "F"]));
        assert_eq!(p.metrics.inconsistent, 1);
        assert_eq!(p.metrics.daily.iter().map(|d| d.created).sum::<u64>(), 2);
    }

    #[test]
    fn the_mode_follows_as_of_against_capture_start_and_history_until() {
        let span = HistorySpan {
            capture_started_at: Some(instant("2026-06-16T08:00:00+03:00")),
            history_until: Some(instant("2026-06-16T10:00:00+03:00")),
        };
        let mode = |t: &str| Replay::at(instant(t), span).mode;
        assert_eq!(mode("2026-06-16T07:59:59+03:00"), ReplayMode::Clock);
        assert_eq!(mode("2026-06-16T08:00:00+03:00"), ReplayMode::Recorded);
        assert_eq!(mode("2026-06-16T09:59:59+03:00"), ReplayMode::Recorded);
        assert_eq!(mode("2026-06-16T10:00:00+03:00"), ReplayMode::Live);
        assert_eq!(mode("2030-01-01T00:00:00+03:00"), ReplayMode::Live);
        let none = Replay::at(instant("2020-01-01T00:00:00Z"), HistorySpan::default());
        assert_eq!(none.mode, ReplayMode::Live);
        assert_eq!(none.capture_started_at, None);
    }
}
