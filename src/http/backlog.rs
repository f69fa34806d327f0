//! `GET /api/v1/inc/backlog`: the backlog over time, cached like the dashboard.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;

use super::auth::Reader;
use super::cache::{BacklogKey, Body, Entry};
use super::dashboard::blocking;
use super::error::ApiError;
use super::schemas::{Bound, CachedReadResponses, FilterParams};
use super::AppState;
use crate::eat::EatTime;
use crate::history::backlog::Interval;
use crate::history::params::{self, BacklogRequest};
use crate::history::sealed::Parts;
use crate::history::Backlog;

/// The open backlog with its SLA split at the end of each hour or day, and the tickets
/// that entered and left it over the bucket.
///
/// Counts are null for buckets that end before capture start. Cached per normalised
/// parameters for `CACHE_TTL_SECS` and dropped when an import writes rows; send
/// `If-None-Match` with the last `ETag` to get a 304.
#[utoipa::path(
    get,
    path = "/api/v1/inc/backlog",
    tag = "history",
    params(
        ("from" = Option<Bound>, Query, description = "Start of the period: RFC 3339, or `YYYY-MM-DD` (00:00 EAT); before `to` and now. Default: `to` − 7 days.", example = "2026-06-15"),
        ("to" = Option<Bound>, Query, description = "End of the period: RFC 3339, or `YYYY-MM-DD` (00:00 EAT); after `from`. Default, and at most: now."),
        ("interval" = Option<Interval>, Query, description = "Bucket size in EAT. Default: `hour` for periods up to 7 days, else `day`. At most 8,784 buckets (a leap year of hours)."),
        FilterParams,
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response."),
    ),
    responses(
        (status = 200, description = "The series", body = Backlog),
        CachedReadResponses,
    ),
    security((), ("bearer" = []))
)]
pub async fn backlog(
    State(app): State<AppState>,
    _: Reader,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = params::parse(query.as_deref().unwrap_or(""), Utc::now())?;
    let (entry, _) = cached(&app, request).await?;
    Ok(app.cache.respond(&entry, &headers).await)
}

/// The request's cache entry and its series, built on a miss: what the route sends and
/// what the Grafana datasource plots.
pub async fn cached(
    app: &AppState,
    request: BacklogRequest,
) -> Result<(Entry, Arc<Backlog>), ApiError> {
    let key = BacklogKey {
        generation: app.live.fresh().await.generation,
        from: request.fixed_from,
        to: request.fixed_to,
        interval: request.interval,
        filters: request.filters.clone(),
    };
    app.cache.typed(key, build(app.clone(), request)).await
}

/// Reads the sealed hours and the versions of the buckets they leave, then computes and
/// serialises the series off the async threads; the entry keeps the typed series for
/// Grafana beside the bytes.
#[tracing::instrument(name = "backlog_build", skip_all,
    fields(interval = ?request.interval, buckets = request.buckets.len(), versions))]
async fn build(app: AppState, request: BacklogRequest) -> Result<(Body, Backlog), ApiError> {
    let target = app.rules.sla_target_hours;
    let parts = Parts::read(&app.read, &request.buckets, &request.filters, target).await?;
    tracing::Span::current().record("versions", parts.versions());
    blocking(move || {
        let capture_start = parts.capture_start;
        let points = parts.series(&request.filters, target);
        let payload = Backlog {
            interval: request.interval,
            from: EatTime(request.from),
            to: EatTime(request.to),
            filters: request.filters,
            capture_started_at: capture_start.map(EatTime),
            points,
        };
        let json = serde_json::to_vec(&payload).map_err(ApiError::internal)?;
        Ok((Body::new(json), payload))
    })
    .await
}
