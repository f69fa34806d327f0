//! The layers around every route, outermost first: a request id, the request's span,
//! the timeout, CORS, compression, panics caught, errors made JSON, bad input refused.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use super::error::{error_response, ApiError};
use super::input;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the layers need to know.
pub struct LayerConfig {
    pub cors_origins: Vec<HeaderValue>,
    pub timeout: Duration,
}

pub fn apply(router: Router, config: &LayerConfig) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(config.cors_origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::ETAG, REQUEST_ID])
        .max_age(Duration::from_secs(3600));
    let timeout = config.timeout;
    router.layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn(request_id))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
            }))
            .layer(HandleErrorLayer::new(move |_: tower::BoxError| async move {
                ApiError::Timeout(timeout)
            }))
            .timeout(timeout)
            .layer(cors)
            // Bodies that are already encoded (the cached ones) pass through as they are.
            .layer(CompressionLayer::new())
            .layer(CatchPanicLayer::custom(panicked))
            .layer(middleware::from_fn(json_errors))
            .layer(middleware::from_fn(input::guard)),
    )
}

/// Every request gets an id of ours (a client's own is not trusted: it would go into
/// every log line), in its span and in the `x-request-id` response header.
async fn request_id(mut request: Request, next: Next) -> Response {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let process = *PROCESS.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        xxhash_rust::xxh3::xxh3_64(format!("{nanos}:{}", std::process::id()).as_bytes())
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = HeaderValue::from_str(&format!("{:08x}-{n:x}", process >> 32))
        .unwrap_or(HeaderValue::from_static("0"));
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// A panic in a handler is logged (in the request's span, so with its id) and answered
/// with a 500 JSON body; the connection stays up.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    ApiError::internal(format!("panic: {message}")).into_response()
}

/// Error responses made outside our handlers (axum's extractor rejections, 405 Method
/// Not Allowed, 413 Payload Too Large) get the same JSON `{error, detail}` body as ours.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let error = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    let detail = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            "this path does not take that method (see the Allow header)".to_owned()
        }
        (true, _) => error.clone(),
    };
    let mut json = error_response(status, &error, detail, None, false);
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            json.headers_mut().insert(name, v.clone());
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("the handler broke")
    }

    fn app() -> Router {
        let router = Router::new().route("/boom", get(boom)).route(
            "/echo",
            post(|axum::Json(v): axum::Json<serde_json::Value>| async move { v.to_string() }),
        );
        apply(
            router,
            &LayerConfig {
                cors_origins: vec![],
                timeout: Duration::from_secs(5),
            },
        )
    }

    async fn call(request: Request) -> (StatusCode, String, serde_json::Value) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let id = response
            .headers()
            .get(REQUEST_ID)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, id, serde_json::from_slice(&body).unwrap())
    }

    fn get_request(uri: &str) -> Request {
        Request::get(uri).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_panic_is_a_json_500_with_a_request_id() {
        let (status, id, body) = call(get_request("/boom")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal error");
        assert!(!body["detail"].as_str().unwrap().contains("broke"));
        assert!(id.contains('-'), "{id}");
    }

    #[tokio::test]
    async fn errors_made_outside_handlers_are_json() {
        let (status, _, body) = call(Request::delete("/boom").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"], "method not allowed");
        let (status, _, body) = call(
            Request::post("/echo")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"].as_str().unwrap().contains("JSON"), "{body}");
        let (status, _, body) = call(get_request("/boom?x=%00")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["parameter"], "x");
    }

    #[tokio::test]
    async fn request_ids_differ_and_ignore_the_clients() {
        let (_, a, _) = call(get_request("/boom")).await;
        let request = Request::get("/boom")
            .header(REQUEST_ID, "client-chosen")
            .body(Body::empty())
            .unwrap();
        let (_, b, _) = call(request).await;
        assert_ne!(a, b);
        assert_ne!(b, "client-chosen");
    }
}
