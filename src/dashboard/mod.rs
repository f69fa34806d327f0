//! The dashboard payload of `dashboard.md`, computed from typed rows by pure functions.

pub mod features;
pub mod freshness;
pub mod metrics;
pub mod params;
pub mod render;
pub mod round;
pub mod sla;
pub mod window;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::eat::{self, EatTime};
use features::{ClosedCollection, OpenCollection};
use freshness::Freshness;
use metrics::Metrics;
use params::{DashboardRequest, Filters};
use sla::{ClosedSla, OpenSla};
use window::WindowKind;

/// One ticket as the dashboard reads it.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct Ticket {
    pub ticket_id: String,
    pub normalized_status: Option<String>,
    pub raw_status: Option<String>,
    pub cluster: Option<String>,
    pub region: Option<String>,
    pub location_name: Option<String>,
    pub assigned_team: Option<String>,
    pub owner: Option<String>,
    pub created_at_service: Option<DateTime<Utc>>,
    pub first_seen_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub mttr: Option<i32>,
    pub sla_status: Option<String>,
    pub is_actionable: bool,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub geo_source: Option<String>,
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

#[derive(Debug, Serialize, ToSchema)]
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
}

/// The payload's parts, computed and not yet serialised.
pub struct Computed<'a> {
    pub window: WindowOut,
    pub filters: Filters,
    pub open: Vec<Open<'a>>,
    pub closed: Vec<(&'a Ticket, ClosedSla)>,
    pub metrics: Metrics,
    pub freshness: Freshness,
}

/// Computes the payload from the live tickets (`open_rows`: the actionable ones) and the
/// tickets closed or created in the window (`window_rows`). Either may hold more: the
/// window and the filters are applied here.
pub fn compute<'a>(
    open_rows: &'a [Ticket],
    window_rows: &'a [Ticket],
    request: &DashboardRequest,
    freshness: Freshness,
    rules: &Rules,
) -> Computed<'a> {
    let w = &request.window;
    let keep = |t: &Ticket| {
        request
            .filters
            .keeps(t.cluster.as_deref(), t.normalized_status.as_deref())
    };
    let mut open: Vec<Open> = open_rows
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_actionable && keep(t))
        .map(|(index, ticket)| {
            let start = ticket.created_at_service.or(ticket.first_seen_at);
            let (hours_open, state) = sla::open(start, w.as_of, rules.sla_target_hours);
            Open {
                ticket,
                index,
                hours_open,
                state,
            }
        })
        .collect();
    open.sort_by(|a, b| {
        a.ticket
            .ticket_id
            .as_bytes()
            .cmp(b.ticket.ticket_id.as_bytes())
    });
    let mut in_window: Vec<&Ticket> = window_rows
        .iter()
        .filter(|t| {
            [t.closed_at, t.created_at_service]
                .into_iter()
                .flatten()
                .any(|c| w.contains(c))
        })
        .filter(|t| keep(t))
        .collect();
    in_window.sort_by(|a, b| a.ticket_id.as_bytes().cmp(b.ticket_id.as_bytes()));
    in_window.dedup_by(|a, b| a.ticket_id == b.ticket_id);
    let closed: Vec<(&Ticket, ClosedSla)> = in_window
        .iter()
        .filter(|t| t.closed_at.is_some_and(|c| w.contains(c)))
        .map(|&t| (t, sla::closed(t.sla_status.as_deref())))
        .collect();
    let metrics = metrics::compute(&open, &closed, &in_window, w);
    Computed {
        window: WindowOut {
            kind: w.kind,
            from: EatTime(w.from),
            to: EatTime(w.to),
            tz: eat::TZ_NAME,
            as_of: EatTime(w.as_of),
        },
        filters: request.filters.clone(),
        open,
        closed,
        metrics,
        freshness,
    }
}

impl<'a> Computed<'a> {
    /// The typed payload (what the OpenAPI document describes; `render` writes the same
    /// bytes faster).
    pub fn into_dashboard(self) -> Dashboard<'a> {
        Dashboard {
            window: self.window,
            filters: self.filters,
            open: self.open.iter().map(features::open).collect(),
            closed: self
                .closed
                .iter()
                .map(|&(t, state)| features::closed(t, state))
                .collect(),
            metrics: self.metrics,
            freshness: self.freshness,
        }
    }
}

#[cfg(test)]
mod fixture_tests;
