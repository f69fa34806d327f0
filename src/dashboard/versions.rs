//! The recent history, kept in memory for one generation of the live open set: every
//! version valid at some instant of the last hours before the newest history time `H`
//! that a recorded payload there can read (actionable, or closed or created since the
//! earliest window around the horizon's start). A recorded miss inside the horizon
//! picks the versions valid at its `as_of` here instead of querying the history (a
//! slider over the last week, a post-mortem of last Monday); older instants still query
//! it (`read::tickets::recorded_tickets`, whose rows these equal). Pure: no database.

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use foldhash::fast::RandomState;

use super::render::{self, Pieces};
use super::{by_id, recent, size, SharedRows, Ticket};
use crate::params::window::Window;
use crate::params::DashboardRequest;
use crate::ticket::Text;

/// A version: the ticket as recorded over `[valid_from, valid_to)`, over its current
/// row's untracked fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub valid_from: DateTime<Utc>,
    /// `None` while current.
    pub valid_to: Option<DateTime<Utc>>,
    pub ticket: Ticket,
}

impl AsRef<Ticket> for Version {
    fn as_ref(&self) -> &Ticket {
        &self.ticket
    }
}

impl AsMut<Ticket> for Version {
    fn as_mut(&mut self) -> &mut Ticket {
        &mut self.ticket
    }
}

/// What a horizon starting at `start` holds: the versions valid at or after `start` that
/// are actionable, or closed or created at or after `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    pub start: DateTime<Utc>,
    /// The start of the earliest week or month window around `start` (`recent::since`):
    /// no such window of a later `as_of` starts before it.
    pub since: DateTime<Utc>,
}

impl Horizon {
    /// The `hours` before `history_until` (none for 0 hours).
    pub fn before(history_until: DateTime<Utc>, hours: u32) -> Option<Horizon> {
        let start = history_until - Duration::hours(i64::from(hours));
        (hours > 0).then(|| Horizon {
            start,
            since: recent::since(start),
        })
    }

    /// Whether the versions it holds answer a recorded request in `window` (at its
    /// `as_of`, before `H`).
    pub fn covers(&self, window: &Window) -> bool {
        self.start <= window.as_of && self.since <= window.from
    }
}

/// The recent history's versions, as the live open set holds its tickets: shared by the
/// payloads computed from them (a request picks its rows by index, nothing is copied),
/// each open head and closed feature written once.
#[derive(Debug)]
pub struct RecentVersions {
    pub horizon: Horizon,
    /// The versions' tickets, by ticket id, then `valid_from`.
    pub tickets: SharedRows,
    /// `spans[i]`: what `at` tests of `tickets[i]`, packed: a request scans them all and
    /// reads only the tickets it picks.
    spans: Vec<Span>,
    /// The (cluster, status) pairs the versions have, which a span names by position: a
    /// request tests its filters once per pair, not once per version (reading a ticket
    /// the request does not pick is a cache miss).
    filtered_on: Vec<(Option<Text>, Option<Text>)>,
    /// `heads.get(i)`: `render::open_head` of `tickets[i]` if it is open, else empty.
    pub heads: Pieces,
    /// `closed[i]`: the closed feature of `tickets[i]` if it has `closed_at`, else empty.
    pub closed: Pieces,
}

/// A version's validity and the times that make a payload read it, in microseconds
/// (PostgreSQL's precision; the recorded query compares them so too): `i64::MAX` for no
/// end, `i64::MIN` for no time; and its position in `filtered_on`.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: i64,
    to: i64,
    closed: i64,
    created: i64,
    filtered_on: u32,
    open: bool,
}

impl Span {
    fn of(v: &Version, filtered_on: u32) -> Span {
        let micros = |t: Option<DateTime<Utc>>| t.map_or(i64::MIN, |t| t.timestamp_micros());
        Span {
            from: v.valid_from.timestamp_micros(),
            to: v.valid_to.map_or(i64::MAX, |t| t.timestamp_micros()),
            closed: micros(v.ticket.closed_at),
            created: micros(v.ticket.created_at_service),
            filtered_on,
            open: v.ticket.is_open(),
        }
    }
}

impl RecentVersions {
    /// `versions`: what `horizon` holds (`read::versions::recent`), any order.
    pub fn new(horizon: Horizon, mut versions: Vec<Version>) -> RecentVersions {
        versions.sort_unstable_by(|a, b| {
            by_id(&a.ticket, &b.ticket).then(a.valid_from.cmp(&b.valid_from))
        });
        let mut pairs: HashMap<(Option<&str>, Option<&str>), u32, RandomState> = HashMap::default();
        let spans = versions
            .iter()
            .map(|v| {
                let t = &v.ticket;
                let pair = (t.cluster.as_deref(), t.normalized_status.as_deref());
                let next = pairs.len() as u32;
                Span::of(v, *pairs.entry(pair).or_insert(next))
            })
            .collect();
        let mut filtered_on = vec![(None, None); pairs.len()];
        for ((cluster, status), i) in pairs {
            filtered_on[i as usize] = (cluster.map(Text::from), status.map(Text::from));
        }
        let tickets: Vec<Ticket> = versions.into_iter().map(|v| v.ticket).collect();
        let heads = render::open_heads(&tickets);
        let closed = render::closed_features(&tickets);
        RecentVersions {
            horizon,
            tickets: Arc::new(tickets),
            spans,
            filtered_on,
            heads,
            closed,
        }
    }

    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// The bytes it holds: the versions with their text, their spans, heads and features.
    pub fn heap_bytes(&self) -> usize {
        size::rows_bytes(&self.tickets)
            + self.spans.capacity() * size_of::<Span>()
            + self.filtered_on.capacity() * size_of::<(Option<Text>, Option<Text>)>()
            + self
                .filtered_on
                .iter()
                .map(|(c, s)| size::text_bytes(c) + size::text_bytes(s))
                .sum::<usize>()
            + self.heads.heap_bytes()
            + self.closed.heap_bytes()
    }

    /// The versions recorded at the request's `as_of` that its payload reads, as indices
    /// into `tickets`, by ticket id: those valid then that are actionable or closed or
    /// created in the window, after the filters (the rows
    /// `read::tickets::recorded_tickets` queries). `req` must be covered
    /// (`Horizon::covers`).
    pub fn at(&self, req: &DashboardRequest) -> Vec<usize> {
        let (window, filters) = (&req.window, &req.filters);
        let micros = |t: DateTime<Utc>| t.timestamp_micros();
        let (t, from, to) = (micros(window.as_of), micros(window.from), micros(window.to));
        let in_window = |x: i64| from <= x && x < to;
        let kept: Vec<bool> = self
            .filtered_on
            .iter()
            .map(|(cluster, status)| filters.keeps(cluster.as_deref(), status.as_deref()))
            .collect();
        // A ticket's versions do not overlap: each ticket once, in id order.
        (0..self.spans.len())
            .filter(|&i| {
                let s = &self.spans[i];
                s.from <= t
                    && t < s.to
                    && (s.open || in_window(s.closed) || in_window(s.created))
                    && kept[s.filtered_on as usize]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eat::instant;
    use crate::params::parse;

    fn version(id: &str, from: &str, to: Option<&str>, ticket: Ticket) -> Version {
        Version {
            valid_from: instant(from),
            valid_to: to.map(instant),
            ticket: Ticket {
                ticket_id: id.into(),
                ..ticket
            },
        }
    }

    fn open(cluster: &str) -> Ticket {
        Ticket {
            normalized_status: Some("OPEN".into()),
            is_actionable: Some(true),
            cluster: Some(cluster.into()),
            created_at_service: Some(instant("2026-05-01T00:00:00+03:00")),
            ..Ticket::default()
        }
    }

    fn closed(cluster: &str, created: &str, closed: Option<&str>) -> Ticket {
        Ticket {
            normalized_status: Some("CLOSED".into()),
            is_actionable: Some(false),
            cluster: Some(cluster.into()),
            created_at_service: Some(instant(created)),
            closed_at: closed.map(instant),
            ..Ticket::default()
        }
    }

    fn ids_at(held: &RecentVersions, query: &str, as_of: &str) -> Vec<String> {
        let q = format!("{query}&as_of={}", as_of.replace('+', "%2B"));
        let req = parse(&q, instant(as_of)).unwrap();
        assert!(held.horizon.covers(&req.window), "{q}");
        held.at(&req)
            .into_iter()
            .map(|i| &held.tickets[i])
            .map(|t| format!("{}:{}", t.ticket_id, t.cluster.as_deref().unwrap()))
            .collect()
    }

    #[test]
    fn the_horizon_holds_the_hours_before_h_and_the_windows_around_them() {
        let h = instant("2026-06-10T12:00:00+03:00");
        let horizon = Horizon::before(h, 48).unwrap();
        assert_eq!(horizon.start, instant("2026-06-08T12:00:00+03:00"));
        // Monday 8 June: the week starts then, the month on 1 June.
        assert_eq!(horizon.since, instant("2026-06-01T00:00:00+03:00"));
        assert_eq!(Horizon::before(h, 0), None);
        let w = |q: &str, as_of: &str| {
            let q = format!("{q}&as_of={}", as_of.replace('+', "%2B"));
            parse(&q, instant(as_of)).unwrap().window
        };
        assert!(horizon.covers(&w("window=month", "2026-06-08T12:00:00+03:00")));
        assert!(!horizon.covers(&w("window=today", "2026-06-08T11:59:59+03:00")));
        // A custom window starting before `since` is not held.
        assert!(horizon.covers(&w(
            "window=custom&from=2026-06-01T00:00:00%2B03:00&to=2026-06-09T00:00:00%2B03:00",
            "2026-06-09T00:00:00+03:00"
        )));
        assert!(!horizon.covers(&w(
            "window=custom&from=2026-05-31T23:00:00%2B03:00&to=2026-06-09T00:00:00%2B03:00",
            "2026-06-09T00:00:00+03:00"
        )));
    }

    #[test]
    fn a_request_reads_the_versions_valid_at_its_instant_that_its_payload_needs() {
        let horizon = Horizon::before(instant("2026-06-12T00:00:00+03:00"), 96).unwrap();
        let held = RecentVersions::new(
            horizon,
            vec![
                // Open in Karen until 10 June 09:00, then in Westlands, still open.
                version("B", "2026-06-10T09:00:00+03:00", None, open("Westlands")),
                version(
                    "B",
                    "2026-06-01T00:00:00+03:00",
                    Some("2026-06-10T09:00:00+03:00"),
                    open("Karen"),
                ),
                // Open until it closed on 9 June; created long before.
                version(
                    "A",
                    "2026-05-01T00:00:00+03:00",
                    Some("2026-06-09T10:00:00+03:00"),
                    open("Karen"),
                ),
                version(
                    "A",
                    "2026-06-09T10:00:00+03:00",
                    None,
                    closed(
                        "Karen",
                        "2026-05-01T00:00:00+03:00",
                        Some("2026-06-09T10:00:00+03:00"),
                    ),
                ),
                // Created and closed on 3 June: in the month's window, not the week's.
                version(
                    "C",
                    "2026-06-03T10:00:00+03:00",
                    None,
                    closed(
                        "Karen",
                        "2026-06-03T08:00:00+03:00",
                        Some("2026-06-03T09:00:00+03:00"),
                    ),
                ),
                // Created on 10 June, never actionable nor closed.
                version(
                    "D",
                    "2026-06-10T11:00:00+03:00",
                    None,
                    closed("Westlands", "2026-06-10T10:00:00+03:00", None),
                ),
            ],
        );
        assert_eq!(held.len(), 6);
        // Each open version's head and each closed one's feature, written once.
        let written: Vec<(&str, bool, bool)> = (0..held.len())
            .map(|i| {
                let t = &held.tickets[i];
                let head = !held.heads.get(i).is_empty();
                (t.ticket_id.as_str(), head, !held.closed.get(i).is_empty())
            })
            .collect();
        assert_eq!(
            written,
            [
                ("A", true, false),
                ("A", false, true),
                ("B", true, false),
                ("B", true, false),
                ("C", false, true),
                ("D", false, false)
            ]
        );
        assert_eq!(
            held.heads.get(0),
            render::open_head(&held.tickets[0]).as_bytes()
        );
        let week = "window=week";
        assert_eq!(
            ids_at(&held, week, "2026-06-09T09:59:59+03:00"),
            ["A:Karen", "B:Karen"]
        );
        // A closes exactly at 10:00: closed in the week from then on.
        assert_eq!(
            ids_at(&held, week, "2026-06-09T10:00:00+03:00"),
            ["A:Karen", "B:Karen"]
        );
        assert_eq!(
            ids_at(&held, week, "2026-06-11T00:00:00+03:00"),
            ["A:Karen", "B:Westlands", "D:Westlands"]
        );
        assert_eq!(
            ids_at(&held, "window=month", "2026-06-11T00:00:00+03:00"),
            ["A:Karen", "B:Westlands", "C:Karen", "D:Westlands"]
        );
        // The filters match the fields of the time.
        assert_eq!(
            ids_at(
                &held,
                "window=week&cluster=karen",
                "2026-06-10T08:00:00+03:00"
            ),
            ["A:Karen", "B:Karen"]
        );
        assert_eq!(
            ids_at(
                &held,
                "window=month&status=CLOSED",
                "2026-06-11T00:00:00+03:00"
            ),
            ["A:Karen", "C:Karen", "D:Westlands"]
        );
        // Both filters: the versions' (cluster, status) pairs, each tested once.
        assert_eq!(
            ids_at(
                &held,
                "window=month&cluster=karen&status=CLOSED",
                "2026-06-11T00:00:00+03:00"
            ),
            ["A:Karen", "C:Karen"]
        );
        assert_eq!(
            ids_at(
                &held,
                "window=month&cluster=Westlands&status=OPEN",
                "2026-06-11T00:00:00+03:00"
            ),
            ["B:Westlands"]
        );
        // The today window of 11 June: B (open), nothing closed or created that day.
        assert_eq!(
            ids_at(&held, "window=today", "2026-06-11T00:00:00+03:00"),
            ["B:Westlands"]
        );
    }
}
