//! The metrics panel: counts, SLA splits, per-status and per-cluster tables, the daily
//! series, closure rate and MTTR, all over the filtered sets.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::round;
use super::sla::{ClosedSla, OpenSla};
use super::window::Window;
use super::Ticket;
use crate::eat;

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

/// One ticket's part in the metrics.
pub struct Counted<'a> {
    pub ticket: &'a Ticket,
    /// The open SLA state, for tickets of the open set.
    pub open: Option<OpenSla>,
    /// The mapped closed SLA, for tickets of the closed set.
    pub closed: Option<ClosedSla>,
}

pub fn compute<'a>(tickets: impl IntoIterator<Item = Counted<'a>>, window: &Window) -> Metrics {
    let mut sla = SlaCounts::default();
    let mut by_status = ByStatus::default();
    let mut clusters: BTreeMap<Option<&str>, ClusterRow> = BTreeMap::new();
    let days = window.days();
    let mut daily: Vec<Day> = days
        .iter()
        .map(|&date| Day {
            date,
            created: 0,
            closed: 0,
        })
        .collect();
    let day_index = |t| days.binary_search(&eat::local_date(t)).ok();
    let (mut open_count, mut closed_count, mut inconsistent) = (0, 0, 0);
    let (mut mttr_sum, mut mttr_n) = (0i128, 0i128);
    for Counted {
        ticket: t,
        open,
        closed,
    } in tickets
    {
        let status = t
            .normalized_status
            .clone()
            .unwrap_or_else(|| "UNKNOWN".into());
        let row = clusters
            .entry(t.cluster.as_deref())
            .or_insert_with(|| ClusterRow {
                cluster: t.cluster.clone(),
                open: 0,
                closed: 0,
                open_breached: 0,
            });
        if let Some(state) = open {
            open_count += 1;
            row.open += 1;
            *by_status.open.entry(status.clone()).or_default() += 1;
            let slot = match state {
                OpenSla::Within => &mut sla.open.within,
                OpenSla::AtRisk => &mut sla.open.at_risk,
                OpenSla::Breached => &mut sla.open.breached,
                OpenSla::Unknown => &mut sla.open.unknown,
            };
            *slot += 1;
            row.open_breached += u64::from(state == OpenSla::Breached);
        }
        if let Some(state) = closed {
            closed_count += 1;
            row.closed += 1;
            *by_status.closed.entry(status).or_default() += 1;
            let slot = match state {
                ClosedSla::Met => &mut sla.closed.met,
                ClosedSla::Breached => &mut sla.closed.breached,
                ClosedSla::Unknown => &mut sla.closed.unknown,
            };
            *slot += 1;
            if let Some(m) = t.mttr {
                mttr_sum += i128::from(m);
                mttr_n += 1;
            }
        }
        inconsistent += u64::from(open.is_some() && closed.is_some());
        if let Some(i) = t
            .created_at_service
            .filter(|c| window.contains(*c))
            .and_then(day_index)
        {
            daily[i].created += 1;
        }
        if let Some(i) = t
            .closed_at
            .filter(|c| window.contains(*c))
            .and_then(day_index)
        {
            daily[i].closed += 1;
        }
    }
    // Clusters that occur only through the daily series are not in either set.
    let mut by_cluster: Vec<ClusterRow> = clusters
        .into_values()
        .filter(|r| r.open + r.closed > 0)
        .collect();
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
