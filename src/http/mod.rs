//! The HTTP surface: thin handlers over a shared state; auth as extractors; one error
//! type; a response cache; metrics, CORS, compression and timeouts as layers.

pub mod admin;
mod assets;
pub mod auth;
pub mod backlog;
pub mod cache;
pub mod dashboard;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod grafana;
pub mod health;
pub mod input;
pub mod jobs;
pub mod layers;
pub mod map;
pub mod openapi;
pub mod schemas;
pub mod tickets;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sqlx::PgPool;

use crate::dashboard::Rules;
use crate::ingest::run::Ingester;
use crate::live::Live;
use crate::metrics::{Metrics, RouteLabels};
use crate::supervise::Supervisor;
use auth::Tokens;
use cache::ResponseCache;

#[derive(Clone)]
pub struct AppState {
    /// The primary (`DATABASE_URL`): imports, geocoding, locks, LISTEN, readiness.
    pub pool: PgPool,
    /// The read path (`DATABASE_READ_URL`, a hot standby; else the primary's pool):
    /// every query a read route makes goes here.
    pub read: PgPool,
    /// How long a change may wait for the read database before `/readyz` says lagging.
    pub replica_wait: Duration,
    pub metrics: Arc<Metrics>,
    pub ingester: Ingester,
    pub tokens: Tokens,
    pub cache: ResponseCache,
    pub rules: Rules,
    pub map: map::MapConfig,
    pub live: Live,
    /// The background tasks, for `/readyz`, and import jobs' shutdown.
    pub supervisor: Supervisor,
    pub imports: jobs::ImportJobs,
    /// The event streams of `GET /api/v1/events`.
    pub push: crate::push::Push,
}

/// Router settings that are not request state.
pub struct Surface {
    pub layers: layers::LayerConfig,
    /// Files served instead of the embedded map files of the same name.
    pub static_dir: Option<std::path::PathBuf>,
}

/// The router with every route and layer.
pub fn router(state: AppState, surface: &Surface) -> Router {
    let api = Router::new()
        .route("/api/v1/inc/dashboard", get(dashboard::dashboard))
        .route("/api/v1/inc/nearest", get(dispatch::nearest))
        .route("/api/v1/inc/teams", get(dispatch::teams))
        .route("/api/v1/inc/backlog", get(backlog::backlog))
        .route("/api/v1/inc/tickets/{ticket_id}", get(tickets::ticket))
        .route(
            "/api/v1/inc/tickets/{ticket_id}/history",
            get(tickets::ticket_history),
        )
        .route("/api/v1/freshness", get(tickets::freshness))
        .route("/api/v1/clusters", get(tickets::clusters))
        .route("/api/v1/statuses", get(tickets::statuses))
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/admin/import", post(admin::import))
        .route("/api/v1/admin/imports/{id}", get(admin::import_job))
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
    let routes = api
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs"))
        .merge(map::routes(surface.static_dir.as_deref()))
        .with_state(state);
    layers::apply(routes, &surface.layers)
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
