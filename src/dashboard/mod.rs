//! The dashboard payload of `dashboard.md`, computed from typed rows by pure functions.

pub mod features;
pub mod freshness;
pub mod metrics;
pub mod params;
pub mod round;
pub mod sla;
pub mod window;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::eat::{self, EatTime};
use features::{ClosedCollection, OpenCollection};
use freshness::Freshness;
use metrics::{Counted, Metrics};
use params::{DashboardRequest, Filters};
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
pub struct Dashboard {
    pub window: WindowOut,
    pub filters: Filters,
    /// Every actionable ticket, whatever the window.
    pub open: OpenCollection,
    /// Every ticket with `closed_at` in the window.
    pub closed: ClosedCollection,
    pub metrics: Metrics,
    pub freshness: Freshness,
}

/// Builds the payload from the tickets that may belong to it (the caller may pass more:
/// the window and filters are applied here).
pub fn build(
    tickets: &[Ticket],
    request: &DashboardRequest,
    freshness: Freshness,
    rules: &Rules,
) -> Dashboard {
    let w = &request.window;
    let mut kept: Vec<&Ticket> = tickets
        .iter()
        .filter(|t| {
            request
                .filters
                .keeps(t.cluster.as_deref(), t.normalized_status.as_deref())
        })
        .collect();
    kept.sort_by(|a, b| a.ticket_id.as_bytes().cmp(b.ticket_id.as_bytes()));
    let mut open = Vec::new();
    let mut closed = Vec::new();
    let counted: Vec<Counted> = kept
        .iter()
        .map(|&t| {
            let open_sla = t.is_actionable.then(|| {
                let (hours, state) = sla::open(
                    t.created_at_service.or(t.first_seen_at),
                    w.as_of,
                    rules.sla_target_hours,
                );
                open.push(features::open(t, hours, state));
                state
            });
            let closed_sla = t.closed_at.filter(|c| w.contains(*c)).map(|_| {
                let state = sla::closed(t.sla_status.as_deref());
                closed.push(features::closed(t, state));
                state
            });
            Counted {
                ticket: t,
                open: open_sla,
                closed: closed_sla,
            }
        })
        .collect();
    let metrics = metrics::compute(counted, w);
    Dashboard {
        window: WindowOut {
            kind: w.kind,
            from: EatTime(w.from),
            to: EatTime(w.to),
            tz: eat::TZ_NAME,
            as_of: EatTime(w.as_of),
        },
        filters: request.filters.clone(),
        open: open.into_iter().collect(),
        closed: closed.into_iter().collect(),
        metrics,
        freshness,
    }
}

#[cfg(test)]
mod fixture_tests;
