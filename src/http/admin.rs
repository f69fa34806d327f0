//! `POST /api/v1/admin/import`: run the bucket ingest now.

use axum::extract::State;
use axum::Json;

use super::auth::Admin;
use super::error::{ApiError, ErrorBody};
use super::input::NoParameters;
use super::AppState;
use crate::ingest::run::{RunError, RunReport};
use crate::ingest::Mode;

/// Imports the pending snapshots now (the same run as the schedule's), admin only.
#[utoipa::path(
    post,
    path = "/api/v1/admin/import",
    tag = "admin",
    responses(
        (status = 200, description = "What happened to each pending snapshot", body = Object),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin token, or no tokens configured", body = ErrorBody),
        (status = 409, description = "Another replica is importing right now", body = ErrorBody),
        (status = 503, description = "The bucket or the database is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn import(
    State(app): State<AppState>,
    _: Admin,
    _: NoParameters,
) -> Result<Json<RunReport>, ApiError> {
    let report = app.ingester.run(Mode::Apply).await.map_err(|e| match e {
        RunError::Database(e) => ApiError::from(e),
        RunError::Bucket(e) => ApiError::Bucket(e),
    })?;
    if report.skipped_locked {
        return Err(ApiError::Conflict(
            "another replica is importing right now; try again in a minute".into(),
        ));
    }
    Ok(Json(report))
}
