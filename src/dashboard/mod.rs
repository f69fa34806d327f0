//! The dashboard payload of `dashboard.md`, computed from typed rows by pure functions.

pub mod features;
pub mod freshness;
pub mod metrics;
mod prefetch;
pub mod recent;
pub mod render;
pub mod replay;
pub mod round;
mod size;
pub mod sla;
pub mod versions;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::eat::{self, EatTime};
use crate::params::window::WindowKind;
use crate::params::{DashboardRequest, Filters};
use crate::ticket::fields::ticket_struct;
use features::{ClosedCollection, OpenCollection};
use freshness::Freshness;
use metrics::Metrics;
use recent::Recent;
use replay::Replay;
use sla::{ClosedSla, OpenSla};
use versions::RecentVersions;

ticket_struct!(map, read; [
    /// One ticket as the dashboard reads it: the declared fields of the map view
    /// (decoded from a row by `read::tickets`).
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Ticket
] {
    pub ticket_id: crate::ticket::Text,
} {});

impl Ticket {
    /// Live (actionable) at its instant; an unknown flag is not.
    pub fn is_open(&self) -> bool {
        self.is_actionable == Some(true)
    }
}

/// So that readers can take tickets or what holds one (`versions::Version`).
impl AsRef<Ticket> for Ticket {
    fn as_ref(&self) -> &Ticket {
        self
    }
}

impl AsMut<Ticket> for Ticket {
    fn as_mut(&mut self) -> &mut Ticket {
        self
    }
}

/// A ticket of the open set with its derived SLA.
#[derive(Debug, Clone, Copy)]
pub struct Open<'a> {
    pub ticket: &'a Ticket,
    /// Its position in the open rows (for per-row data computed ahead, see `render`).
    pub index: usize,
    pub hours_open: Option<f64>,
    pub state: OpenSla,
}

/// The settings the payload depends on.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub sla_target_hours: f64,
    pub stale_after: Duration,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WindowOut {
    pub kind: WindowKind,
    #[schema(value_type = String, format = DateTime)]
    pub from: EatTime,
    #[schema(value_type = String, format = DateTime)]
    pub to: EatTime,
    /// Always `Africa/Nairobi`.
    pub tz: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub as_of: EatTime,
}

/// The payload of `GET /api/v1/inc/dashboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard<'a> {
    pub window: WindowOut,
    pub filters: Filters,
    /// Every actionable ticket, whatever the window.
    pub open: OpenCollection<'a>,
    /// Every ticket with `closed_at` in the window.
    pub closed: ClosedCollection<'a>,
    pub metrics: Metrics,
    pub freshness: Freshness,
    /// Which tickets the payload was computed from (`timetravel.md`).
    pub replay: Replay,
}

/// One ticket of the open set, by its position in the open rows, with its derived SLA.
#[derive(Debug, Clone, Copy)]
struct OpenEntry {
    index: usize,
    hours_open: Option<f64>,
    state: OpenSla,
}

/// The dashboard, computed once and typed: what the HTTP JSON (`render`, serde through
/// `to_dashboard`), Grafana and the teams table all read. It owns (or shares) the rows
/// its sets point into, so it can live in the response cache beside its bytes.
pub struct Payload {
    pub window: WindowOut,
    pub filters: Filters,
    open_rows: SharedRows,
    /// Ordered by ticket id.
    open: Vec<OpenEntry>,
    window_rows: WindowRows,
    /// Indices into `window_rows`, ordered by ticket id.
    closed: Vec<(usize, ClosedSla)>,
    pub metrics: Metrics,
    pub freshness: Freshness,
    pub replay: Replay,
}

/// Rows shared by the payloads computed from them: the live open set's, or one recorded
/// miss's (a `Vec`, not a slice: the versions are sorted where they were fetched, and an
/// `Arc<[Ticket]>` would copy them again, 10 MB at 1M tickets into fresh pages, on the
/// miss's path).
pub type SharedRows = Arc<Vec<Ticket>>;

/// The tickets a payload is computed from: the open ones (`open`: the actionable ones;
/// the current rows, or the versions recorded at `as_of`, see `replay`) and those closed
/// or created in the window (`window`). Either may hold more: the window and the filters
/// are applied by `compute`.
pub struct Rows {
    pub open: SharedRows,
    pub window: WindowRows,
    pub replay: Replay,
}

/// The rows a window's closed and created tickets are taken from.
pub enum WindowRows {
    /// Queried for the request.
    Queried(Vec<Ticket>),
    /// The recent tickets in memory (they cover the window, see `Recent::covers`).
    Recent(Arc<Recent>),
    /// The open rows themselves (the versions recorded at `as_of`, see `replay::rows`).
    Open(SharedRows),
    /// The recent history, whose tickets are the open rows too, and the versions of it
    /// recorded at `as_of` (indices into its tickets, `RecentVersions::at`): the only rows
    /// `compute` reads.
    Held(Arc<RecentVersions>, Vec<usize>),
}

impl WindowRows {
    pub fn tickets(&self) -> &[Ticket] {
        match self {
            WindowRows::Queried(rows) => rows,
            WindowRows::Recent(recent) => &recent.tickets,
            WindowRows::Open(rows) => rows,
            WindowRows::Held(held, _) => &held.tickets,
        }
    }

    /// The rows `compute` reads, as indices into `tickets` (and into the open rows, which
    /// `Held`'s are): those picked, else every one of `len`.
    fn read(&self, len: usize) -> impl Iterator<Item = usize> + '_ {
        let picked = match self {
            WindowRows::Held(held, picked) => Some((&held.tickets, picked)),
            _ => None,
        };
        let every = picked.is_none().then_some(0..len);
        picked
            .into_iter()
            .flat_map(|(tickets, picked)| {
                prefetch::ahead(picked, |&i| prefetch::item(&tickets[i])).copied()
            })
            .chain(every.into_iter().flatten())
    }
}

impl From<Vec<Ticket>> for WindowRows {
    fn from(rows: Vec<Ticket>) -> WindowRows {
        WindowRows::Queried(rows)
    }
}

/// Computes the payload from its rows, as `dashboard.md` defines it for `as_of`.
pub fn compute(
    rows: Rows,
    request: &DashboardRequest,
    freshness: Freshness,
    rules: &Rules,
) -> Payload {
    let Rows {
        open: open_rows,
        window: window_set,
        replay,
    } = rows;
    let window_rows = window_set.tickets();
    let w = &request.window;
    let keep = |t: &Ticket| {
        request
            .filters
            .keeps(t.cluster.as_deref(), t.normalized_status.as_deref())
    };
    let mut open: Vec<OpenEntry> = window_set
        .read(open_rows.len())
        .map(|index| (index, &open_rows[index]))
        .filter(|(_, t)| t.is_open() && keep(t))
        .map(|(index, ticket)| {
            let (hours_open, state) = open_sla(ticket, w.as_of, rules);
            OpenEntry {
                index,
                hours_open,
                state,
            }
        })
        .collect();
    open.sort_by(|a, b| by_id(&open_rows[a.index], &open_rows[b.index]));
    let mut in_window: Vec<usize> = window_set
        .read(window_rows.len())
        .filter(|&i| {
            let t = &window_rows[i];
            [t.closed_at, t.created_at_service]
                .into_iter()
                .flatten()
                .any(|c| w.contains(c))
                && keep(t)
        })
        .collect();
    in_window.sort_by(|&a, &b| by_id(&window_rows[a], &window_rows[b]));
    in_window.dedup_by(|a, b| window_rows[*a].ticket_id == window_rows[*b].ticket_id);
    let closed: Vec<(usize, ClosedSla)> = in_window
        .iter()
        .map(|&i| (i, &window_rows[i]))
        .filter(|(_, t)| t.closed_at.is_some_and(|c| w.contains(c)))
        .map(|(i, t)| (i, sla::closed(t.sla_status.as_deref())))
        .collect();
    let metrics = {
        let open: Vec<Open> = open.iter().map(|e| e.view(&open_rows)).collect();
        let closed: Vec<(&Ticket, ClosedSla)> =
            closed.iter().map(|&(i, s)| (&window_rows[i], s)).collect();
        let in_window: Vec<&Ticket> = in_window.iter().map(|&i| &window_rows[i]).collect();
        metrics::compute(&open, &closed, &in_window, w)
    };
    Payload {
        window: WindowOut {
            kind: w.kind,
            from: EatTime(w.from),
            to: EatTime(w.to),
            tz: eat::TZ_NAME,
            as_of: EatTime(w.as_of),
        },
        filters: request.filters.clone(),
        open_rows,
        open,
        window_rows: window_set,
        closed,
        metrics,
        freshness,
        replay,
    }
}

/// `hours_open` and the SLA state of an open ticket at `as_of`.
pub fn open_sla(t: &Ticket, as_of: DateTime<Utc>, rules: &Rules) -> (Option<f64>, OpenSla) {
    sla::open(
        t.created_at_service.or(t.first_seen_at),
        as_of,
        rules.sla_target_hours,
    )
}

/// Ticket ids in byte order.
pub fn by_id(a: &Ticket, b: &Ticket) -> std::cmp::Ordering {
    a.ticket_id.as_bytes().cmp(b.ticket_id.as_bytes())
}

impl OpenEntry {
    fn view<'a>(&self, rows: &'a [Ticket]) -> Open<'a> {
        Open {
            ticket: &rows[self.index],
            index: self.index,
            hours_open: self.hours_open,
            state: self.state,
        }
    }
}

impl Payload {
    /// The rows the open set was taken from (`Open::index` points into them).
    pub fn open_rows(&self) -> &[Ticket] {
        &self.open_rows
    }

    /// The open set, ordered by ticket id.
    pub fn open(&self) -> impl ExactSizeIterator<Item = Open<'_>> {
        self.open.iter().map(|e| e.view(&self.open_rows))
    }

    /// The closed set with the mapped SLA, ordered by ticket id.
    pub fn closed(&self) -> impl ExactSizeIterator<Item = (&Ticket, ClosedSla)> {
        let rows = self.window_rows.tickets();
        self.closed.iter().map(move |&(i, s)| (&rows[i], s))
    }

    /// The rows the window's sets were taken from.
    pub fn window_rows(&self) -> &WindowRows {
        &self.window_rows
    }

    /// The closed set's positions in `window_rows`, ordered by ticket id.
    pub fn closed_positions(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.closed.iter().map(|&(i, _)| i)
    }

    /// The typed payload (what the OpenAPI document describes; `render` writes the same
    /// bytes faster).
    pub fn to_dashboard(&self) -> Dashboard<'_> {
        Dashboard {
            window: self.window.clone(),
            filters: self.filters.clone(),
            open: self.open().map(|o| features::open(&o)).collect(),
            closed: self.closed().map(|(t, s)| features::closed(t, s)).collect(),
            metrics: self.metrics.clone(),
            freshness: self.freshness.clone(),
            replay: self.replay,
        }
    }
}

#[cfg(test)]
mod fixture_tests;
