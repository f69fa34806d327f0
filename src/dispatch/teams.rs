//! `GET /api/v1/inc/teams`: per team (or owner) the open backlog with its SLA split and
//! the closures of the window, each attributed to the team that held the ticket when it
//! closed. Computed over the dashboard's typed payload, so the `total` row is its
//! metrics for the same parameters.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;

use crate::dashboard::metrics::Metrics;
pub use crate::dashboard::recent::Holder;
use crate::dashboard::sla::{ClosedSla, OpenSla};
use crate::dashboard::{round, Payload, Ticket, WindowOut};
use crate::params::{refuse, Filters, ParamError};

/// What the rows group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// `assigned_team`.
    #[default]
    Team,
    Owner,
}

impl By {
    pub fn parse(text: Option<&str>) -> Result<By, ParamError> {
        match text {
            None | Some("team") => Ok(By::Team),
            Some("owner") => Ok(By::Owner),
            Some(other) => Err(refuse("by", format!("{other:?} is neither team nor owner"))),
        }
    }

    fn of(self, h: &Holder) -> Option<&str> {
        match self {
            By::Team => h.assigned_team.as_deref(),
            By::Owner => h.owner.as_deref(),
        }
    }

    fn of_ticket(self, t: &Ticket) -> Option<&str> {
        match self {
            By::Team => t.assigned_team.as_deref(),
            By::Owner => t.owner.as_deref(),
        }
    }
}

/// One row (flat, so a Grafana table shows it as is).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct TeamRow {
    /// The team or owner as stored; null for none (and in `total`).
    pub name: Option<String>,
    pub open: u64,
    pub open_within: u64,
    pub open_at_risk: u64,
    pub open_breached: u64,
    pub open_unknown: u64,
    pub closed: u64,
    pub closed_met: u64,
    pub closed_breached: u64,
    pub closed_unknown: u64,
    /// Mean MTTR over the closures where known, 1 decimal; null if none.
    pub avg_mttr_minutes: Option<f64>,
    /// closed / (closed + open), 4 decimals; null when both are 0.
    pub closure_rate: Option<f64>,
}

/// The payload of `GET /api/v1/inc/teams`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Teams {
    pub by: By,
    pub window: WindowOut,
    pub filters: Filters,
    /// By `closed` descending, then `open` descending, then name in byte order, null last.
    pub rows: Vec<TeamRow>,
    /// The dashboard's metrics for the same parameters.
    pub total: TeamRow,
}

#[derive(Default)]
struct Tally {
    row: TeamRow,
    mttr_sum: i128,
    mttr_n: i128,
}

/// The rows over the payload's open and closed sets. `closing` holds, per ticket closed
/// in the window, who held it when it closed (from the history); a ticket missing there
/// counts for its current row's team.
pub fn compute(p: &Payload, by: By, closing: &HashMap<String, Holder>) -> Teams {
    let mut tallies: BTreeMap<Option<&str>, Tally> = BTreeMap::new();
    for o in p.open() {
        let r = &mut tallies.entry(by.of_ticket(o.ticket)).or_default().row;
        r.open += 1;
        *match o.state {
            OpenSla::Within => &mut r.open_within,
            OpenSla::AtRisk => &mut r.open_at_risk,
            OpenSla::Breached => &mut r.open_breached,
            OpenSla::Unknown => &mut r.open_unknown,
        } += 1;
    }
    for (t, state) in p.closed() {
        let name = closing
            .get(t.ticket_id.as_str())
            .map_or_else(|| by.of_ticket(t), |h| by.of(h));
        let tally = tallies.entry(name).or_default();
        let r = &mut tally.row;
        r.closed += 1;
        *match state {
            ClosedSla::Met => &mut r.closed_met,
            ClosedSla::Breached => &mut r.closed_breached,
            ClosedSla::Unknown => &mut r.closed_unknown,
        } += 1;
        if let Some(m) = t.mttr {
            tally.mttr_sum += i128::from(m);
            tally.mttr_n += 1;
        }
    }
    let mut rows: Vec<TeamRow> = tallies
        .into_iter()
        .map(|(name, t)| TeamRow {
            name: name.map(str::to_owned),
            avg_mttr_minutes: (t.mttr_n > 0).then(|| round::ratio(t.mttr_sum, t.mttr_n, 1)),
            closure_rate: rate(t.row.closed, t.row.open),
            ..t.row
        })
        .collect();
    rows.sort_by(|a, b| {
        b.closed
            .cmp(&a.closed)
            .then(b.open.cmp(&a.open))
            .then_with(|| match (&a.name, &b.name) {
                (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
                (a, b) => a.is_none().cmp(&b.is_none()),
            })
    });
    Teams {
        by,
        window: p.window.clone(),
        filters: p.filters.clone(),
        rows,
        total: total(&p.metrics),
    }
}

fn rate(closed: u64, open: u64) -> Option<f64> {
    let all = i128::from(closed + open);
    (all > 0).then(|| round::ratio(i128::from(closed), all, 4))
}

/// The dashboard's metrics as a row.
fn total(m: &Metrics) -> TeamRow {
    TeamRow {
        name: None,
        open: m.open_count,
        open_within: m.sla.open.within,
        open_at_risk: m.sla.open.at_risk,
        open_breached: m.sla.open.breached,
        open_unknown: m.sla.open.unknown,
        closed: m.closed_count,
        closed_met: m.sla.closed.met,
        closed_breached: m.sla.closed.breached,
        closed_unknown: m.sla.closed.unknown,
        avg_mttr_minutes: m.avg_mttr_minutes,
        closure_rate: m.closure_rate,
    }
}
