//! One error type for the API, rendered as JSON `{"error", "detail"}`. Details of
//! internal failures are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dashboard::params::ParamError;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in a few words.
    pub error: String,
    /// Why, and what to do about it.
    pub detail: String,
    /// The offending query parameter, for 400s about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    BadParameter(#[from] ParamError),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database (or another dependency) is unreachable or too slow; retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => ApiError::Unavailable(e.to_string()),
            // 08: connection exceptions; 57: operator intervention (shutdown, statement
            // timeout); 53: insufficient resources.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("57") || c.starts_with("53")
                }) =>
            {
                ApiError::Unavailable(e.to_string())
            }
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, detail, parameter) = match self {
            ApiError::BadParameter(p) => (
                StatusCode::BAD_REQUEST,
                format!("invalid parameter `{}`", p.param),
                p.detail,
                Some(p.param),
            ),
            ApiError::BadRequest(detail) => {
                (StatusCode::BAD_REQUEST, "bad request".into(), detail, None)
            }
            ApiError::NotFound(detail) => (StatusCode::NOT_FOUND, "not found".into(), detail, None),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized".into(),
                "a valid `Authorization: Bearer <token>` header is required".into(),
                None,
            ),
            ApiError::Forbidden(detail) => (
                StatusCode::FORBIDDEN,
                "forbidden".into(),
                detail.into(),
                None,
            ),
            ApiError::Conflict(detail) => (StatusCode::CONFLICT, "conflict".into(), detail, None),
            ApiError::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable");
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(ErrorBody {
                        error: "service unavailable".into(),
                        detail: "the database is unreachable or too slow right now; retry shortly"
                            .into(),
                        parameter: None,
                    }),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return response;
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".into(),
                    "the error was logged on the server".into(),
                    None,
                )
            }
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error,
                detail,
                parameter,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
