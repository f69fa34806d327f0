//! `GET /api/v1/inc/dashboard`: the FleetOps map's payload, cached.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;

use super::auth::Reader;
use super::cache::{Body, DashboardKey, Entry};
use super::error::ApiError;
use super::schemas::{CachedReadResponses, FilterParams, Instant, WindowParams};
use super::AppState;
use crate::dashboard::freshness::Freshness;
use crate::dashboard::replay::{Replay, ReplayMode};
use crate::dashboard::{self, render, Dashboard, Payload, Rows, WindowRows};
use crate::live::OpenSet;
use crate::params::window::WindowKind;
use crate::params::{self, DashboardRequest};
use crate::read;
use std::sync::Arc;

/// The open tickets, the tickets closed in the window, the metrics panel and freshness.
///
/// With `as_of` between capture start and the newest history time the payload is the
/// state as recorded then (`replay.mode` = `recorded`); before capture start the clock
/// is set back on today's tickets (`clock`); otherwise it is `live`.
///
/// Cached per normalised filters and resolved window for `CACHE_TTL_SECS`, and dropped
/// when an import writes rows. Send `If-None-Match` with the last `ETag` to get a 304.
#[utoipa::path(
    get,
    path = "/api/v1/inc/dashboard",
    tag = "dashboard",
    params(
        ("window" = Option<WindowKind>, Query, description = "The window for closed tickets and the daily series (EAT); default `today`.", example = "week"),
        WindowParams,
        FilterParams,
        ("as_of" = Option<Instant>, Query, description = "RFC 3339 instant used as \"now\" (default: the server clock). Between capture start and the newest history time, the tickets are as recorded then (see `replay`)."),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response."),
    ),
    responses(
        (status = 200, description = "The payload", body = Dashboard),
        CachedReadResponses,
    ),
    security((), ("bearer" = []))
)]
pub async fn dashboard(
    State(app): State<AppState>,
    _: Reader,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = params::parse(query.as_deref().unwrap_or(""), Utc::now())?;
    let (entry, _) = cached(&app, request).await?;
    Ok(app.cache.respond(&entry, &headers).await)
}

/// The request's cache entry and its typed `Payload`, built on a miss.
pub async fn cached(
    app: &AppState,
    request: DashboardRequest,
) -> Result<(Entry, Arc<Payload>), ApiError> {
    let open = app.live.fresh().await;
    let key = DashboardKey::of(&request, open.generation);
    app.cache
        .typed(key, build(app.clone(), open, request))
        .await
}

/// The typed payload of a request, from (or into) the same cache entry as its JSON.
pub async fn payload(app: &AppState, request: DashboardRequest) -> Result<Arc<Payload>, ApiError> {
    Ok(cached(app, request).await?.1)
}

/// The rows a payload at the request's `as_of` is computed from (`timetravel.md`): the
/// in-memory open set and the window's current rows (`live`, `clock`: the in-memory
/// recent tickets when they cover the window, else queried), or the versions recorded
/// at `as_of` over their current rows (`recorded`).
pub async fn rows(
    app: &AppState,
    open: &Arc<OpenSet>,
    request: &DashboardRequest,
) -> Result<Rows, ApiError> {
    let replay = Replay::at(request.window.as_of, open.history);
    if replay.mode == ReplayMode::Recorded {
        return Ok(app.live.recorded(open, request, replay).await?);
    }
    let window = if open.recent.covers(&request.window) {
        WindowRows::Recent(open.recent.clone())
    } else {
        read::tickets::window_tickets(&app.read, request)
            .await?
            .into()
    };
    Ok(Rows {
        open: open.tickets.clone(),
        window,
        replay,
    })
}

/// Queries the payload's rows and the import state, then computes the payload and
/// writes its JSON off the async threads.
#[tracing::instrument(name = "dashboard_build", skip_all,
    fields(generation = open.generation, window = ?request.window.kind, mode, rows))]
async fn build(
    app: AppState,
    open: Arc<OpenSet>,
    request: DashboardRequest,
) -> Result<(Body, Payload), ApiError> {
    let started = std::time::Instant::now();
    let (rows, state) = tokio::try_join!(rows(&app, &open, &request), async {
        Ok::<_, ApiError>(app.live.import_state().await?)
    })?;
    let queried = started.elapsed();
    let rules = app.rules;
    let span = tracing::Span::current();
    span.record("mode", tracing::field::debug(rows.replay.mode));
    span.record("rows", rows.window.tickets().len());
    blocking(move || {
        let _in = span.enter();
        let freshness = Freshness::at(&state, request.window.as_of, rules.stale_after);
        let payload = dashboard::compute(rows, &request, freshness, &rules);
        let built = started.elapsed();
        // The live set's heads were written when it was loaded; a recorded version's
        // features when this generation first met it.
        let recorded = &open.recorded;
        let json = match (payload.replay.mode, payload.window_rows()) {
            (_, WindowRows::Held(held, _)) => render::write_json(&payload, &held.heads, None),
            (ReplayMode::Recorded, _) => render::write_json(
                &payload,
                &recorded.open_heads(&payload),
                Some(&recorded.closed(&payload)),
            ),
            (ReplayMode::Live | ReplayMode::Clock, _) => {
                render::write_json(&payload, &open.heads, None)
            }
        }
        .map_err(ApiError::internal)?;
        tracing::debug!(?queried, ?built, serialised = ?started.elapsed(), "dashboard built");
        Ok((Body::new(json), payload))
    })
    .await
}

/// Runs CPU-bound work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}
