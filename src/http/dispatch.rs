//! `GET /api/v1/inc/nearest` (uncached: every position differs; answered from the
//! in-memory open set) and `GET /api/v1/inc/teams` (cached like the dashboard, over its
//! typed payload, computed without its JSON).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::auth::Reader;
use super::cache::{DashboardKey, JsonKey};
use super::dashboard::{blocking, rows};
use super::error::{ApiError, ErrorBody};
use super::schemas::{CachedReadResponses, FilterParams, Instant, StatusParam, Text, WindowParams};
use super::AppState;
use crate::dashboard::freshness::{Freshness, ImportState};
use crate::dashboard::{self, Payload, WindowRows};
use crate::dispatch::nearest::{self, NearestAnswer};
use crate::dispatch::teams::{self, By, Teams};
use crate::live::OpenSet;
use crate::params::{self, DashboardRequest};
use crate::read;

/// The open tickets nearest a position, with their geodesic distances (WGS84, as
/// PostGIS `ST_Distance(geography, geography)`), nearest first. Not cached.
#[utoipa::path(
    get,
    path = "/api/v1/inc/nearest",
    tag = "dispatch",
    params(
        ("lat" = f64, Query, minimum = -90, maximum = 90, description = "Latitude of the position, WGS84 decimal degrees.", example = -1.2921),
        ("lon" = f64, Query, minimum = -180, maximum = 180, description = "Longitude of the position, WGS84 decimal degrees.", example = 36.8219),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "How many tickets (default 10)."),
        ("max_km" = Option<f64>, Query, exclusive_minimum = 0, maximum = 20000, description = "Only tickets at most this far (km)."),
        ("cluster" = Option<Vec<Text>>, Query, explode = true, description = "Clusters to keep (case-insensitive); repeat or comma-separate."),
        ("status" = Option<Vec<StatusParam>>, Query, explode = true, description = "Statuses to keep (case-insensitive); repeat or comma-separate."),
        ("sla_state" = Option<Vec<crate::dashboard::sla::OpenSla>>, Query, explode = true, description = "SLA states to keep at `as_of`; repeat or comma-separate."),
        ("as_of" = Option<Instant>, Query, description = "RFC 3339 instant used as \"now\" for the SLA (default: the server clock)."),
    ),
    responses(
        (status = 200, description = "A GeoJSON FeatureCollection of the dashboard's open features with `distance_km`", body = NearestAnswer),
        (status = 400, description = "A bad parameter, named in the body", body = ErrorBody),
        (status = 414, description = "The path and query are longer than 8 KiB", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn nearest(
    State(app): State<AppState>,
    _: Reader,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let request = nearest::parse(query.as_deref().unwrap_or(""), Utc::now())?;
    let open = app.live.fresh().await;
    let rules = app.rules;
    let json = blocking(move || {
        let near = nearest::nearest(&open.tickets, &request, &rules);
        serde_json::to_vec(&nearest::answer(&near, &request)).map_err(ApiError::internal)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json,
    )
        .into_response())
}

/// Per team (or owner): the open backlog with its SLA split at `as_of`, and the
/// closures of the window attributed to the team that held the ticket when it closed,
/// with their SLA split, mean MTTR and closure rate; `total` is the dashboard's metrics.
///
/// Cached like the dashboard; send `If-None-Match` with the last `ETag` to get a 304.
#[utoipa::path(
    get,
    path = "/api/v1/inc/teams",
    tag = "dispatch",
    params(
        ("by" = Option<By>, Query, description = "Group by `assigned_team` (team, the default) or `owner`."),
        ("window" = Option<crate::params::window::WindowKind>, Query, description = "The window for closed tickets (EAT), as the dashboard's; default `today`."),
        WindowParams,
        FilterParams,
        ("as_of" = Option<Instant>, Query, description = "RFC 3339 instant used as \"now\" (default: the server clock)."),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response."),
    ),
    responses(
        (status = 200, description = "The rows and their total", body = Teams),
        CachedReadResponses,
    ),
    security((), ("bearer" = []))
)]
pub async fn teams(
    State(app): State<AppState>,
    _: Reader,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut q = params::window_query(query.as_deref().unwrap_or(""), &["by"])?;
    let by = By::parse(q.take("by").as_deref())?;
    let request = q.request(Utc::now())?;
    let open = app.live.fresh().await;
    let key = JsonKey::Teams(by, DashboardKey::of(&request, open.generation));
    let entry = app
        .cache
        .json(key, build_teams(app.clone(), open, request, by))
        .await?;
    Ok(app.cache.respond(&entry, &headers).await)
}

/// The table over the request's typed payload, computed without the dashboard's JSON
/// (at national scale that is tens of MB the table does not read) or its freshness.
async fn build_teams(
    app: AppState,
    open: Arc<OpenSet>,
    request: DashboardRequest,
    by: By,
) -> Result<Vec<u8>, ApiError> {
    let rows = rows(&app, &open, &request).await?;
    let rules = app.rules;
    let payload = blocking(move || {
        let as_of = request.window.as_of;
        let freshness = Freshness::at(&ImportState::default(), as_of, rules.stale_after);
        Ok(dashboard::compute(rows, &request, freshness, &rules))
    })
    .await?;
    let teams = teams_of(&app, &payload, by).await?;
    serde_json::to_vec(&teams).map_err(ApiError::internal)
}

/// The teams table of a payload, with the closures attributed from the history (held in
/// memory with the recent tickets the payload was computed from, else queried).
pub async fn teams_of(app: &AppState, payload: &Payload, by: By) -> Result<Teams, ApiError> {
    if let WindowRows::Recent(recent) = payload.window_rows() {
        return Ok(teams::compute(payload, by, &recent.closing));
    }
    let ids: Vec<&str> = payload
        .closed()
        .map(|(t, _)| t.ticket_id.as_str())
        .collect();
    let closing = read::attribution::closing_holders(&app.read, &ids).await?;
    Ok(teams::compute(payload, by, &closing))
}
