//! The dashboard payload for a Grafana time range and selection: computed by the same
//! `dashboard::compute` as `/api/v1/inc/dashboard`, and for the selections that the
//! dashboard's filters express, taken from the very same cache entry (same key, same
//! bytes). Grafana reads the payload's metrics and open tickets; they are parsed back
//! from those bytes into the few typed fields it needs.

use std::sync::Arc;

use axum::http::HeaderMap;
use chrono::NaiveDate;
use serde::Deserialize;

use super::filters::Selection;
use crate::dashboard::freshness::{Freshness, ImportState};
use crate::dashboard::params::DashboardRequest;
use crate::dashboard::window::Window;
use crate::dashboard::{self, Ticket};
use crate::db;
use crate::http::error::ApiError;
use crate::http::{AppState, CacheKey};

/// The parts of the dashboard payload that Grafana shows.
#[derive(Debug, Deserialize)]
pub struct Summary {
    pub metrics: Metrics,
    pub open: Collection,
}

#[derive(Debug, Deserialize)]
pub struct Metrics {
    pub open_count: u64,
    pub closed_count: u64,
    pub sla: Sla,
    pub by_cluster: Vec<ClusterRow>,
    pub closure_rate: Option<f64>,
    pub daily: Vec<Day>,
    pub avg_mttr_minutes: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct Sla {
    pub open: OpenSla,
    pub closed: ClosedSla,
}

#[derive(Debug, Deserialize)]
pub struct OpenSla {
    pub within: u64,
    pub at_risk: u64,
    pub breached: u64,
    pub unknown: u64,
}

#[derive(Debug, Deserialize)]
pub struct ClosedSla {
    pub met: u64,
    pub breached: u64,
    pub unknown: u64,
}

#[derive(Debug, Deserialize)]
pub struct ClusterRow {
    pub cluster: Option<String>,
    pub open: u64,
    pub closed: u64,
    pub open_breached: u64,
}

#[derive(Debug, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    pub created: u64,
    pub closed: u64,
}

#[derive(Debug, Deserialize)]
pub struct Collection {
    pub features: Vec<Feature>,
}

#[derive(Debug, Deserialize)]
pub struct Feature {
    pub properties: OpenTicket,
}

#[derive(Debug, Deserialize)]
pub struct OpenTicket {
    pub ticket_id: String,
    pub normalized_status: Option<String>,
    pub cluster: Option<String>,
    pub region: Option<String>,
    pub location_name: Option<String>,
    pub assigned_team: Option<String>,
    pub owner: Option<String>,
    pub hours_open: Option<f64>,
    pub sla_state: String,
}

/// The payload for a custom window and a selection. Without extra predicates this is
/// exactly the dashboard's request (`window=custom&from&to&cluster&status`, server-clock
/// `as_of`) and goes through its cache; with them, the rows are narrowed first and the
/// payload is computed uncached (the cache key has no room for them).
pub async fn summary(
    app: &AppState,
    window: Window,
    selection: &Selection,
) -> Result<Summary, ApiError> {
    let request = DashboardRequest {
        window,
        filters: selection.filters.clone(),
        as_of_given: false,
    };
    let open = app.live.fresh().await;
    let bytes = if selection.extra.is_empty() {
        let key = CacheKey::Dashboard {
            generation: open.generation,
            kind: window.kind,
            from: window.from,
            to: window.to,
            as_of: None,
            filters: request.filters.clone(),
        };
        let body = app
            .cache
            .get_or_build(
                key,
                crate::http::dashboard::build(app.clone(), open, request),
            )
            .await?;
        // Identity encoding (no Accept-Encoding): the cached JSON itself.
        let response = body.respond(&HeaderMap::new(), app.cache.ttl).await;
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    } else {
        let rows = db::tickets::window_tickets(&app.read, &request).await?;
        let extra = selection.extra.clone();
        let rules = app.rules;
        tokio::task::spawn_blocking(move || {
            let keep = |t: &Ticket| extra.iter().all(|p| p.keeps(t));
            let open_rows: Vec<Ticket> = open.tickets.iter().filter(|t| keep(t)).cloned().collect();
            let rows: Vec<Ticket> = rows.into_iter().filter(|t| keep(t)).collect();
            // Grafana reads no freshness: skip its query.
            let freshness = Freshness::at(&ImportState::default(), window.as_of, rules.stale_after);
            let computed = dashboard::compute(&open_rows, &rows, &request, freshness, &rules);
            serde_json::to_vec(&computed.into_dashboard()).map(bytes::Bytes::from)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    tokio::task::spawn_blocking(move || serde_json::from_slice::<Summary>(&bytes))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("the dashboard payload does not parse: {e}")))
}

/// Summaries computed once per distinct selection within one `/query` call.
#[derive(Default)]
pub struct Summaries(Vec<(Selection, Arc<Summary>)>);

impl Summaries {
    pub async fn get(
        &mut self,
        app: &AppState,
        window: Window,
        selection: &Selection,
    ) -> Result<Arc<Summary>, ApiError> {
        if let Some((_, s)) = self.0.iter().find(|(k, _)| k == selection) {
            return Ok(s.clone());
        }
        let s = Arc::new(summary(app, window, selection).await?);
        self.0.push((selection.clone(), s.clone()));
        Ok(s)
    }
}
