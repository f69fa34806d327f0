//! The recent tickets, kept in memory beside the open set: every ticket closed or created
//! since the start of the earliest window (week or month) around the data's time, with
//! its closed feature written once and, for a closed one, who held it when it closed. A
//! live miss whose window starts at or after `since` reads them instead of querying the
//! window and serialising its closed set again: both grew with the window (see
//! `docs/benchmarks.md`, "Dashboard").

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::render::{self, Pieces};
use super::{by_id, Ticket};
use crate::params::window::{Window, WindowKind};

/// Who held a ticket: its team and owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub assigned_team: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Default)]
pub struct Recent {
    /// Every ticket with `closed_at` or `created_at_service` at or after this is held.
    pub since: Option<DateTime<Utc>>,
    /// Ordered by ticket id.
    pub tickets: Vec<Ticket>,
    /// `closed[i]`: the closed feature of `tickets[i]` (empty when it has no `closed_at`).
    pub closed: Pieces,
    /// Who held each closed ticket when it closed, from the history (absent: its row's).
    pub closing: HashMap<String, Holder>,
}

/// The start of the earliest week or month window around `anchor`: windows of
/// requests at or after it start no earlier.
pub fn since(anchor: DateTime<Utc>) -> DateTime<Utc> {
    [WindowKind::Week, WindowKind::Month]
        .map(|kind| Window::around(kind, anchor).from)
        .into_iter()
        .min()
        .expect("two windows")
}

impl Recent {
    /// `tickets` are every ticket closed or created at or after `since`.
    pub fn new(
        since: DateTime<Utc>,
        mut tickets: Vec<Ticket>,
        closing: HashMap<String, Holder>,
    ) -> Recent {
        tickets.sort_by(by_id);
        let closed = render::closed_features(&tickets);
        Recent {
            since: Some(since),
            tickets,
            closed,
            closing,
        }
    }

    /// Whether every ticket closed or created in `window` is held.
    pub fn covers(&self, window: &Window) -> bool {
        self.since.is_some_and(|since| since <= window.from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::{features, sla};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn since_is_the_earlier_of_the_week_and_the_month() {
        // Tuesday 2 June 2026 (EAT): the week began on Monday 1 June, the month too.
        assert_eq!(
            since(at("2026-06-02T10:00:00+03:00")),
            at("2026-06-01T00:00:00+03:00")
        );
        // Wednesday 1 July: the week began on Monday 29 June, before the month.
        assert_eq!(
            since(at("2026-07-01T10:00:00+03:00")),
            at("2026-06-29T00:00:00+03:00")
        );
    }

    #[test]
    fn covers_windows_from_since_on() {
        let recent = Recent::new(at("2026-06-01T00:00:00+03:00"), Vec::new(), HashMap::new());
        let w = |kind, t| Window::around(kind, at(t));
        assert!(recent.covers(&w(WindowKind::Month, "2026-06-30T10:00:00+03:00")));
        assert!(recent.covers(&w(WindowKind::Today, "2026-07-02T10:00:00+03:00")));
        assert!(!recent.covers(&w(WindowKind::Month, "2026-05-31T10:00:00+03:00")));
        assert!(!Recent::default().covers(&w(WindowKind::Today, "2026-06-02T10:00:00+03:00")));
    }

    #[test]
    fn closed_features_are_written_for_closed_tickets_only() {
        let ticket = |id: &str, closed: bool| Ticket {
            ticket_id: id.into(),
            closed_at: closed.then(|| at("2026-06-02T10:00:00+03:00")),
            ..Ticket::default()
        };
        let recent = Recent::new(
            at("2026-06-01T00:00:00+03:00"),
            vec![ticket("b", true), ticket("a", false)],
            HashMap::new(),
        );
        assert_eq!(recent.tickets[0].ticket_id, "a");
        assert_eq!(recent.closed.get(0), b"");
        let b =
            serde_json::to_vec(&features::closed(&recent.tickets[1], sla::closed(None))).unwrap();
        assert_eq!(recent.closed.get(1), b.as_slice());
    }
}
