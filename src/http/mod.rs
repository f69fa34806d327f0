//! The HTTP surface: thin handlers over a shared state; auth as extractors; one error
//! type; a response cache; metrics, CORS, compression and timeouts as layers.

pub mod admin;
pub mod auth;
pub mod backlog;
pub mod cache;
pub mod dashboard;
pub mod error;
pub mod grafana;
pub mod health;
pub mod map;
pub mod openapi;
pub mod tickets;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::dashboard::params::Filters;
use crate::dashboard::window::WindowKind;
use crate::dashboard::Rules;
use crate::db::tickets::ChoiceColumn;
use crate::events::Events;
use crate::history::backlog::Interval;
use crate::ingest::run::Ingester;
use crate::live::Live;
use crate::metrics::{Metrics, RouteLabels};
use auth::Tokens;
use cache::ResponseCache;
use error::ApiError;

/// What a cached response depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    Dashboard {
        /// The open set's generation (see `live`).
        generation: u64,
        kind: WindowKind,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        /// Only when the client fixed it; otherwise the payload is "now" within the TTL.
        as_of: Option<DateTime<Utc>>,
        filters: Filters,
    },
    Choices(ChoiceColumn),
    Backlog {
        generation: u64,
        /// `None` where the bound follows the server clock.
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        interval: Interval,
        filters: Filters,
    },
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    pub events: Events,
    pub ingester: Ingester,
    pub tokens: Tokens,
    pub cache: ResponseCache<CacheKey>,
    pub rules: Rules,
    pub map: map::MapConfig,
    pub live: Live,
}

/// Router settings that are not request state.
pub struct Surface {
    pub cors_origins: Vec<HeaderValue>,
    pub timeout: Duration,
    pub static_dir: std::path::PathBuf,
    pub node_modules_dir: std::path::PathBuf,
}

/// The router with every route and layer.
pub fn router(state: AppState, surface: &Surface) -> Router {
    let api = Router::new()
        .route("/api/v1/inc/dashboard", get(dashboard::dashboard))
        .route("/api/v1/inc/backlog", get(backlog::backlog))
        .route("/api/v1/inc/tickets/{ticket_id}", get(tickets::ticket))
        .route("/api/v1/freshness", get(tickets::freshness))
        .route("/api/v1/clusters", get(tickets::clusters))
        .route("/api/v1/statuses", get(tickets::statuses))
        .route("/api/v1/admin/import", post(admin::import))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    openapi::document(),
                )
            }),
        )
        .merge(health::routes())
        .merge(grafana::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), track));
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(surface.cors_origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([header::ETAG])
        .max_age(Duration::from_secs(3600));
    api.merge(utoipa_swagger_ui::SwaggerUi::new("/docs"))
        .merge(map::routes(&surface.static_dir, &surface.node_modules_dir))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http())
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::Unavailable("the request timed out".into())
                }))
                .timeout(surface.timeout)
                .layer(cors)
                // Bodies that are already encoded (the cached ones) pass through as they are.
                .layer(CompressionLayer::new()),
        )
}

/// Counts requests and their latency by matched route (low cardinality).
async fn track(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let labels = RouteLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    app.metrics.http_requests.get_or_create(&labels).inc();
    app.metrics
        .http_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response.into_response()
}
