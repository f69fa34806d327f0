//! The metrics panel: counts, SLA splits, per-status and per-cluster tables, the daily
//! series, closure rate and MTTR, all over the filtered sets.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::round;
use super::sla::{ClosedSla, OpenSla};
use super::{Open, Ticket};
use crate::eat;
use crate::params::window::Window;

#[derive(Debug, Default, Clone, PartialEq, Serialize, ToSchema)]
pub struct OpenSlaCounts {
    pub within: u64,
    pub at_risk: u64,
    pub breached: u64,
    pub unknown: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClosedSlaCounts {
    pub met: u64,
    pub breached: u64,
    pub unknown: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, ToSchema)]
pub struct SlaCounts {
    pub open: OpenSlaCounts,
    pub closed: ClosedSlaCounts,
}

/// `{normalized_status: count}` per set, statuses that occur only (a missing status
/// counts as `UNKNOWN`).
#[derive(Debug, Default, Clone, PartialEq, Serialize, ToSchema)]
pub struct ByStatus {
    pub open: BTreeMap<String, u64>,
    pub closed: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClusterRow {
    /// As stored; null for tickets without a cluster.
    pub cluster: Option<String>,
    pub open: u64,
    pub closed: u64,
    pub open_breached: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Day {
    /// An EAT calendar day, `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// Tickets whose `created_at_service` falls on this day (inside the window).
    pub created: u64,
    /// Tickets whose `closed_at` falls on this day (inside the window).
    pub closed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Metrics {
    pub open_count: u64,
    pub closed_count: u64,
    pub sla: SlaCounts,
    pub by_status: ByStatus,
    /// Sorted by `open` descending, then cluster in byte order, null last among equals.
    pub by_cluster: Vec<ClusterRow>,
    /// closed / (closed + open), 4 decimals; null when both are 0.
    pub closure_rate: Option<f64>,
    pub daily: Vec<Day>,
    /// Mean MTTR over the closed set where known, 1 decimal; null if none.
    pub avg_mttr_minutes: Option<f64>,
    /// Tickets in both sets (actionable yet closed in the window): a data-quality signal.
    pub inconsistent: u64,
}

/// Computes the panel from the open set (with derived SLA), the closed set (with mapped
/// SLA), both filtered and ordered by ticket id, and every filtered ticket created or
/// closed in the window (for the daily series).
pub fn compute(
    open: &[Open],
    closed: &[(&Ticket, ClosedSla)],
    in_window: &[&Ticket],
    window: &Window,
) -> Metrics {
    let mut sla = SlaCounts::default();
    let mut clusters: BTreeMap<Option<&str>, ClusterRow> = BTreeMap::new();
    let (mut open_status, mut closed_status) =
        (BTreeMap::<&str, u64>::new(), BTreeMap::<&str, u64>::new());
    for &Open {
        ticket: t, state, ..
    } in open
    {
        let r = cluster_row(&mut clusters, t);
        r.open += 1;
        r.open_breached += u64::from(state == OpenSla::Breached);
        *open_status.entry(status(t)).or_default() += 1;
        *match state {
            OpenSla::Within => &mut sla.open.within,
            OpenSla::AtRisk => &mut sla.open.at_risk,
            OpenSla::Breached => &mut sla.open.breached,
            OpenSla::Unknown => &mut sla.open.unknown,
        } += 1;
    }
    let (mut mttr_sum, mut mttr_n) = (0i128, 0i128);
    for &(t, state) in closed {
        cluster_row(&mut clusters, t).closed += 1;
        *closed_status.entry(status(t)).or_default() += 1;
        *match state {
            ClosedSla::Met => &mut sla.closed.met,
            ClosedSla::Breached => &mut sla.closed.breached,
            ClosedSla::Unknown => &mut sla.closed.unknown,
        } += 1;
        if let Some(m) = t.mttr {
            mttr_sum += i128::from(m);
            mttr_n += 1;
        }
    }
    // Both sets are ordered by ticket id: a merge finds the tickets in both.
    let inconsistent = {
        let (mut i, mut j, mut both) = (0, 0, 0u64);
        while i < open.len() && j < closed.len() {
            match open[i].ticket.ticket_id.cmp(&closed[j].0.ticket_id) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    both += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        both
    };
    let days = window.days();
    let mut daily: Vec<Day> = days
        .iter()
        .map(|&date| Day {
            date,
            created: 0,
            closed: 0,
        })
        .collect();
    let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.filter(|t| window.contains(*t))
            .and_then(|t| days.binary_search(&eat::local_date(t)).ok())
    };
    for t in in_window {
        if let Some(i) = day(t.created_at_service) {
            daily[i].created += 1;
        }
        if let Some(i) = day(t.closed_at) {
            daily[i].closed += 1;
        }
    }
    let mut by_cluster: Vec<ClusterRow> = clusters.into_values().collect();
    by_cluster.sort_by(|a, b| {
        b.open
            .cmp(&a.open)
            .then_with(|| match (&a.cluster, &b.cluster) {
                (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    let owned = |m: BTreeMap<&str, u64>| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let by_status = ByStatus {
        open: owned(open_status),
        closed: owned(closed_status),
    };
    let (open_count, closed_count) = (open.len() as u64, closed.len() as u64);
    let total = i128::from(open_count + closed_count);
    Metrics {
        open_count,
        closed_count,
        sla,
        by_status,
        by_cluster,
        closure_rate: (total > 0).then(|| round::ratio(i128::from(closed_count), total, 4)),
        daily,
        avg_mttr_minutes: (mttr_n > 0).then(|| round::ratio(mttr_sum, mttr_n, 1)),
        inconsistent,
    }
}

fn cluster_row<'m, 't>(
    clusters: &'m mut BTreeMap<Option<&'t str>, ClusterRow>,
    t: &'t Ticket,
) -> &'m mut ClusterRow {
    clusters
        .entry(t.cluster.as_deref())
        .or_insert_with(|| ClusterRow {
            cluster: t.cluster.as_deref().map(str::to_owned),
            open: 0,
            closed: 0,
            open_breached: 0,
        })
}

fn status(t: &Ticket) -> &str {
    t.normalized_status.as_deref().unwrap_or("UNKNOWN")
}
