//! Time travel (`timetravel.md`): which tickets a payload at `as_of` is computed from.
//! `live` and `clock` use the current rows; `recorded` the versions valid at `as_of`,
//! their tracked fields over the current row's other fields. Pure: no database.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Ticket;
use crate::eat::EatTime;
use crate::params::window::Window;

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

/// The recorded tickets at an instant (any that can matter: actionable, or closed or
/// created in the window) split as `compute` takes them: the open rows (actionable) and
/// the window's rows (closed or created in it), each in the order given. A ticket can be
/// in both: only those are copied (at 1M tickets, copying every open row and dropping
/// the rest cost more than computing the payload).
pub fn split(rows: Vec<Ticket>, window: &Window) -> (Vec<Ticket>, Vec<Ticket>) {
    let in_window = |t: &Ticket| {
        [t.closed_at, t.created_at_service]
            .into_iter()
            .flatten()
            .any(|c| window.contains(c))
    };
    let (mut open, mut window_rows) = (Vec::new(), Vec::new());
    for t in rows {
        match (t.is_actionable, in_window(&t)) {
            (true, true) => {
                window_rows.push(t.clone());
                open.push(t);
            }
            (true, false) => open.push(t),
            (false, true) => window_rows.push(t),
            (false, false) => {}
        }
    }
    (open, window_rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eat::instant;
    use crate::params::window::WindowKind;

    #[test]
    fn split_keeps_the_actionable_rows_and_the_windows_each_in_order() {
        let at = |s: &str| Some(instant(s));
        let window = Window {
            kind: WindowKind::Week,
            from: instant("2026-06-08T00:00:00+03:00"),
            to: instant("2026-06-15T00:00:00+03:00"),
            as_of: instant("2026-06-12T00:00:00+03:00"),
        };
        let ticket = |id: &str, open: bool, created: Option<DateTime<Utc>>, closed| Ticket {
            ticket_id: id.into(),
            is_actionable: open,
            created_at_service: created,
            closed_at: closed,
            ..Ticket::default()
        };
        let before = at("2026-06-01T00:00:00+03:00");
        let inside = at("2026-06-10T00:00:00+03:00");
        let rows = vec![
            ticket("A", true, before, None),
            ticket("B", true, inside, None),
            ticket("C", false, before, inside),
            ticket("D", false, before, before),
            ticket("E", false, inside, None),
            ticket("F", true, before, inside),
        ];
        let (open, in_window) = split(rows.clone(), &window);
        let ids = |v: &[Ticket]| v.iter().map(|t| t.ticket_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&open), ["A", "B", "F"]);
        assert_eq!(ids(&in_window), ["B", "C", "E", "F"]);
        assert_eq!(open[1], rows[1]);
        assert_eq!(in_window[0], rows[1]);
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
