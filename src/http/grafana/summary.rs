//! The dashboard payload for a Grafana time range and selection: the typed `Payload`
//! of `dashboard::compute`, the same one `/api/v1/inc/dashboard` renders. For the
//! selections that the dashboard's filters express it comes from the very same cache
//! entry (same key); the others narrow the rows first and are computed uncached.

use std::sync::Arc;

use super::filters::Selection;
use crate::dashboard::freshness::{Freshness, ImportState};
use crate::dashboard::{self, Payload, Rows, Ticket};
use crate::http::dashboard::{blocking, payload, rows};
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::params::window::Window;
use crate::params::DashboardRequest;

/// The payload for a custom window and a selection. Without extra predicates this is
/// exactly the dashboard's request (`window=custom&from&to&cluster&status`, with
/// `as_of=to` when the window ends before now, else the server clock) and goes through
/// its cache; with them, the payload is computed uncached (the cache key has no room
/// for them).
pub async fn summary(
    app: &AppState,
    window: Window,
    selection: &Selection,
) -> Result<Arc<Payload>, ApiError> {
    let request = DashboardRequest {
        window,
        filters: selection.filters.clone(),
        // `as_of` is the window's end when that is past (see `grafana::window`).
        as_of_given: window.as_of == window.to,
    };
    if selection.extra.is_empty() {
        return payload(app, request).await;
    }
    let open = app.live.fresh().await;
    let rows = rows(app, &open, &request).await?;
    let extra = selection.extra.clone();
    let rules = app.rules;
    blocking(move || {
        let keep = |t: &Ticket| extra.iter().all(|p| p.keeps(t));
        let rows = Rows {
            open: Arc::new(rows.open.iter().filter(|t| keep(t)).cloned().collect()),
            window: rows
                .window
                .tickets()
                .iter()
                .filter(|t| keep(t))
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            replay: rows.replay,
        };
        // Grafana reads no freshness: skip its query.
        let freshness = Freshness::at(&ImportState::default(), window.as_of, rules.stale_after);
        Ok(Arc::new(dashboard::compute(
            rows, &request, freshness, &rules,
        )))
    })
    .await
}

/// Payloads computed once per distinct selection within one `/query` call.
#[derive(Default)]
pub struct Summaries(Vec<(Selection, Arc<Payload>)>);

impl Summaries {
    pub async fn get(
        &mut self,
        app: &AppState,
        window: Window,
        selection: &Selection,
    ) -> Result<Arc<Payload>, ApiError> {
        if let Some((_, s)) = self.0.iter().find(|(k, _)| k == selection) {
            return Ok(s.clone());
        }
        let s = summary(app, window, selection).await?;
        self.0.push((selection.clone(), s.clone()));
        Ok(s)
    }
}
