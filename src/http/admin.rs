//! `POST /api/v1/admin/import` starts the bucket ingest as a job;
//! `GET /api/v1/admin/imports/{id}` polls it.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Admin;
use super::error::{ApiError, ErrorBody};
use super::input::NoParameters;
use super::jobs::{ImportJob, ImportJobSchema, Started};
use super::AppState;
use crate::params::ParamError;

/// Starts importing the pending snapshots (the same run as the schedule's) in the
/// background, admin only; poll the job at `Location`. One import runs at a time: while
/// one runs, a second POST is a 409 whose `Location` is the running job.
#[utoipa::path(
    post,
    path = "/api/v1/admin/import",
    tag = "admin",
    responses(
        (status = 202, description = "The job started; poll it at `Location`", body = ImportJobSchema,
            headers(("Location" = String, description = "`/api/v1/admin/imports/{id}`"))),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin token, or no tokens configured", body = ErrorBody),
        (status = 409, description = "An import is running: this replica's job (its `Location` given), its schedule's run or another replica's", body = ErrorBody),
        (status = 503, description = "The database is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn import(
    State(app): State<AppState>,
    _: Admin,
    _: NoParameters,
) -> Result<Response, ApiError> {
    Ok(
        match app.imports.start(&app.ingester, &app.supervisor).await? {
            Started::Job(job) => {
                let location = location(&job);
                (
                    StatusCode::ACCEPTED,
                    [(header::LOCATION, location)],
                    Json(job),
                )
                    .into_response()
            }
            Started::AlreadyRunning(job) => {
                let mut response = ApiError::Conflict(format!(
                    "import job {} is running; poll {}",
                    job.id,
                    job.location()
                ))
                .into_response();
                response
                    .headers_mut()
                    .insert(header::LOCATION, location(&job));
                response
            }
            Started::Locked => {
                return Err(ApiError::Conflict(
                    "another import is running (the schedule's or another replica's); try again \
                 in a minute"
                        .into(),
                ))
            }
        },
    )
}

fn location(job: &ImportJob) -> HeaderValue {
    HeaderValue::from_str(&job.location()).expect("a path of ASCII digits")
}

/// An import job: `running`, `done` with the import's report, or `failed` with the
/// error. Jobs live in the memory of the replica that runs them (the last 20).
#[utoipa::path(
    get,
    path = "/api/v1/admin/imports/{id}",
    tag = "admin",
    params(("id" = u64, Path, description = "The job id, from the POST's `Location`")),
    responses(
        (status = 200, description = "The job", body = ImportJobSchema),
        (status = 400, description = "`id` is not a job id", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such job on this replica", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn import_job(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Json<ImportJob>, ApiError> {
    let id: u64 = id.parse().map_err(|_| {
        ApiError::BadParameter(ParamError {
            param: "id".into(),
            detail: format!("{id:?} is not an import job id (a positive integer)"),
        })
    })?;
    app.imports.get(id).map(Json).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no import job {id} on this replica (each replica keeps its last 20 jobs)"
        ))
    })
}
