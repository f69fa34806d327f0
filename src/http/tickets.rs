//! One ticket, the freshness object and the filter choices.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::Utc;

use super::auth::Reader;
use super::cache::JsonKey;
use super::error::{ApiError, ErrorBody};
use super::input::NoParameters;
use super::schemas::{Segment, TicketRefusals};
use super::AppState;
use crate::dashboard::freshness::Freshness;
use crate::history::{
    self,
    timeline::{self, Timeline},
};
use crate::read::tickets::{self, Choice, ChoiceColumn, TicketDetail};

/// One ticket with its source row (`raw`).
#[utoipa::path(
    get,
    path = "/api/v1/inc/tickets/{ticket_id}",
    tag = "tickets",
    params(("ticket_id" = Segment, Path, description = "e.g. INC000012495858")),
    responses((status = 200, body = TicketDetail), TicketRefusals),
    security((), ("bearer" = []))
)]
pub async fn ticket(
    State(app): State<AppState>,
    _: Reader,
    _: NoParameters,
    Path(ticket_id): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    tickets::ticket(&app.read, &ticket_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no ticket {ticket_id:?}")))
}

/// A ticket's history: its versions, oldest first, each with the tracked fields that
/// changed from the previous one (`timetravel.md`). A ticket the store holds but the
/// history does not (only possible before capture) has no versions.
///
/// Cached like the dashboard (dropped when the data changes); send `If-None-Match`
/// with the last `ETag` to get a 304.
#[utoipa::path(
    get,
    path = "/api/v1/inc/tickets/{ticket_id}/history",
    tag = "tickets",
    params(
        ("ticket_id" = Segment, Path, description = "e.g. INC000012495858"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response."),
    ),
    responses(
        (status = 200, body = Timeline),
        (status = 304, description = "Unchanged since the ETag sent"),
        TicketRefusals,
    ),
    security((), ("bearer" = []))
)]
pub async fn ticket_history(
    State(app): State<AppState>,
    _: Reader,
    _: NoParameters,
    Path(ticket_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let generation = app.live.fresh().await.generation;
    let key = JsonKey::Timeline {
        generation,
        ticket_id: ticket_id.clone(),
    };
    let read = app.read.clone();
    let entry = app
        .cache
        .json(key, async move {
            let (versions, span) = tokio::try_join!(
                history::read::timeline(&read, &ticket_id),
                history::read::span(&read),
            )?;
            if versions.is_empty() && !history::read::ticket_exists(&read, &ticket_id).await? {
                return Err(ApiError::NotFound(format!("no ticket {ticket_id:?}")));
            }
            let timeline = timeline::timeline(ticket_id, span.capture_started_at, versions);
            serde_json::to_vec(&timeline).map_err(ApiError::internal)
        })
        .await?;
    Ok(app.cache.respond(&entry, &headers).await)
}

/// The `freshness` object of the dashboard, alone (never cached).
#[utoipa::path(
    get,
    path = "/api/v1/freshness",
    tag = "dashboard",
    responses((status = 200, body = Freshness), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security((), ("bearer" = []))
)]
pub async fn freshness(
    State(app): State<AppState>,
    _: Reader,
    _: NoParameters,
) -> Result<Json<Freshness>, ApiError> {
    let state = tickets::import_state(&app.read).await?;
    Ok(Json(Freshness::at(
        &state,
        Utc::now(),
        app.rules.stale_after,
    )))
}

/// The clusters that occur (as stored), with open and total ticket counts.
#[utoipa::path(
    get,
    path = "/api/v1/clusters",
    tag = "filters",
    responses((status = 200, body = Vec<Choice>), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security((), ("bearer" = []))
)]
pub async fn clusters(
    State(app): State<AppState>,
    _: Reader,
    _: NoParameters,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    choices(app, ChoiceColumn::Cluster, headers).await
}

/// The statuses that occur, with open and total ticket counts.
#[utoipa::path(
    get,
    path = "/api/v1/statuses",
    tag = "filters",
    responses((status = 200, body = Vec<Choice>), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security((), ("bearer" = []))
)]
pub async fn statuses(
    State(app): State<AppState>,
    _: Reader,
    _: NoParameters,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    choices(app, ChoiceColumn::Status, headers).await
}

async fn choices(
    app: AppState,
    column: ChoiceColumn,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pool = app.read.clone();
    let generation = app.live.fresh().await.generation;
    let entry = app
        .cache
        .json(JsonKey::Choices { generation, column }, async move {
            let rows = tickets::choices(&pool, column).await?;
            serde_json::to_vec(&rows).map_err(ApiError::internal)
        })
        .await?;
    Ok(app.cache.respond(&entry, &headers).await)
}
