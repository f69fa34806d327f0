//! One error type for the API, rendered as JSON `{"error", "detail"}`. Details of
//! internal failures are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use std::sync::Arc;
use std::time::Duration;

use super::grafana::refusal::Refusal;
use crate::db::{self, DatabaseFault};
use crate::ingest::bucket::BucketError;
use crate::params::ParamError;

// Also put in the response's extensions, typed (see `error_response`).
/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// The Grafana datasource refuses a request: why, and which target (`refId` and
    /// metric) when it is one target's fault.
    #[error("{}{refusal}", target.as_ref().map(|t| format!("{t}: ")).unwrap_or_default())]
    Refused {
        target: Option<String>,
        refusal: Refusal,
    },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the request's URI is longer than {0} bytes")]
    UriTooLong(usize),
    /// The request's headers, too large; says which and by how much.
    #[error("request headers too large: {0}")]
    HeadersTooLarge(String),
    /// A database error: an outage (503), a value from the client that PostgreSQL
    /// refuses (400) or a bug (500), told apart by its kind and SQLSTATE.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The bucket cannot be read or written.
    #[error(transparent)]
    Bucket(#[from] BucketError),
    /// The request took longer than `REQUEST_TIMEOUT_SECS`.
    #[error("the request took longer than {0:?}")]
    Timeout(Duration),
    /// The service is up but cannot serve yet (e.g. migrations missing).
    #[error("not ready: {0}")]
    NotReady(String),
    /// A limit of this replica is reached (e.g. `EVENTS_MAX_CLIENTS`); says which.
    #[error("busy: {0}")]
    Busy(String),
    /// A bug or a broken invariant (e.g. a value that does not serialise): its cause
    /// goes to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// One error answered to every request waiting on the same cache entry.
    #[error(transparent)]
    Shared(Arc<ApiError>),
}

/// What a client is told: status, error, detail, parameter. Causes are not in it.
struct Public {
    status: StatusCode,
    error: String,
    detail: String,
    parameter: Option<String>,
    retry_after: bool,
}

impl Public {
    fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> Public {
        Public {
            status,
            error: error.to_owned(),
            detail: detail.into(),
            parameter: None,
            retry_after: status == StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl ApiError {
    fn public(&self) -> Public {
        use StatusCode as S;
        match self {
            ApiError::BadParameter(p) => Public {
                error: format!("invalid parameter `{}`", p.param),
                parameter: Some(p.param.clone()),
                ..Public::new(S::BAD_REQUEST, "", p.detail.clone())
            },
            ApiError::BadRequest(detail) => Public::new(S::BAD_REQUEST, "bad request", detail),
            ApiError::Refused { .. } => {
                Public::new(S::BAD_REQUEST, "bad request", self.to_string())
            }
            ApiError::NotFound(detail) => Public::new(S::NOT_FOUND, "not found", detail),
            ApiError::Unauthorized => Public::new(
                S::UNAUTHORIZED,
                "unauthorized",
                "a valid `Authorization: Bearer <token>` header is required",
            ),
            ApiError::Forbidden(detail) => Public::new(S::FORBIDDEN, "forbidden", *detail),
            ApiError::Conflict(detail) => Public::new(S::CONFLICT, "conflict", detail),
            ApiError::UriTooLong(max) => Public::new(
                S::URI_TOO_LONG,
                "URI too long",
                format!("the path and query are longer than {max} bytes"),
            ),
            ApiError::HeadersTooLarge(detail) => Public::new(
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request headers too large",
                detail,
            ),
            ApiError::Database(e) => match db::fault(e) {
                DatabaseFault::Outage => Public::new(
                    S::SERVICE_UNAVAILABLE,
                    "database unavailable",
                    "the database is unreachable or too slow right now; retry shortly",
                ),
                DatabaseFault::BadValue => Public::new(
                    S::BAD_REQUEST,
                    "bad request",
                    "a value in the request cannot be used (the database refused it as text \
                     or as a number or date)",
                ),
                DatabaseFault::Bug => internal(),
            },
            ApiError::Bucket(_) => Public::new(
                S::SERVICE_UNAVAILABLE,
                "bucket unavailable",
                "the snapshot bucket is unreachable right now; retry shortly",
            ),
            ApiError::Timeout(limit) => Public::new(
                S::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the request took longer than {} s; retry shortly",
                    limit.as_secs_f64()
                ),
            ),
            ApiError::NotReady(detail) => Public::new(S::SERVICE_UNAVAILABLE, "not ready", detail),
            ApiError::Busy(detail) => Public::new(S::SERVICE_UNAVAILABLE, "busy", detail),
            ApiError::Internal(_) => internal(),
            ApiError::Shared(inner) => inner.public(),
        }
    }
}

impl ApiError {
    /// An internal error caused by `cause` (an error, or a message).
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
        ApiError::Internal(cause.into())
    }

    /// What a client is told about this error, for a body that reports it later (an
    /// import job's failure, whose cause the ingester logged).
    pub fn body(&self) -> ErrorBody {
        let public = self.public();
        ErrorBody {
            error: public.error,
            detail: public.detail,
            parameter: public.parameter,
        }
    }
}

fn internal() -> Public {
    Public::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        "the error was logged on the server with this response's x-request-id",
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let public = self.public();
        // The cause goes to the log (inside the request's span, with its id), never to
        // the client. Shared errors were logged by the request that built them.
        if !matches!(self, ApiError::Shared(_)) {
            if public.status.is_server_error() {
                let error = crate::telemetry::chain(&self);
                tracing::warn!(%error, "request failed");
            } else if matches!(self, ApiError::Database(_)) {
                tracing::info!(error = %self, "the database refused a value from the request");
            }
        }
        error_response(
            public.status,
            &public.error,
            public.detail,
            public.parameter,
            public.retry_after,
        )
    }
}

/// The JSON error response every error path renders.
pub fn error_response(
    status: StatusCode,
    error: &str,
    detail: String,
    parameter: Option<String>,
    retry_after: bool,
) -> Response {
    let body = ErrorBody {
        error: error.to_owned(),
        detail,
        parameter,
    };
    let mut response = (status, Json(body.clone())).into_response();
    // Typed, for a layer that renders errors its own way (Grafana adds `message`).
    response.extensions_mut().insert(body);
    let headers = response.headers_mut();
    if retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_logs_its_cause_once_and_tells_the_client_none_of_it() {
        let cause = serde_json::from_str::<u8>("300").unwrap_err();
        let text = cause.to_string();
        let e = ApiError::internal(cause);
        assert_eq!(
            crate::telemetry::chain(&e),
            format!("internal error: {text}")
        );
        let body = e.body();
        assert_eq!(body.error, "internal error");
        assert!(!body.detail.contains(&text));
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let e = ApiError::Database(sqlx::Error::PoolTimedOut);
        assert_eq!(
            crate::telemetry::chain(&e),
            format!("database: {}", sqlx::Error::PoolTimedOut)
        );
        let shared = ApiError::Shared(Arc::new(ApiError::internal("a message")));
        assert_eq!(
            crate::telemetry::chain(&shared),
            "internal error: a message"
        );
    }
}
