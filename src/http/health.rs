//! Liveness and readiness.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::{ApiError, ErrorBody};
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers and carries every migration of this binary.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = Object), (status = 503, body = ErrorBody))
)]
pub async fn readyz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    crate::db::check_migrated(&app.pool)
        .await
        .map_err(|e| match e.downcast::<sqlx::Error>() {
            Ok(db) => ApiError::Database(db),
            Err(e) => ApiError::NotReady(e.to_string()),
        })?;
    Ok(Json(json!({"status": "ready"})))
}

/// Prometheus text format: requests and latency by route, cache hits and misses,
/// imports, rows, durations, geocoder calls.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(
    State(app): State<AppState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
}
