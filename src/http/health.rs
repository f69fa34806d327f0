//! Liveness and readiness.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::supervise::TaskStatus;

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

/// What `/readyz` says when the read path can serve.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, or `degraded` when the primary is down, the read database lags or the
    /// data may be stale: reads are still served (from the read database, with their
    /// freshness).
    pub status: &'static str,
    /// `ok` or `down`. Imports, geocoding and change notifications wait while it is down.
    pub primary: &'static str,
    /// `ok`, or `lagging` when a change has waited for the read database's replay for
    /// longer than `REPLICA_WAIT_SECS` (the data before it is served meanwhile).
    pub read: &'static str,
    /// `current`, or `may_be_stale` while the LISTEN connection or the open-set reload
    /// is down (restarting): a change committed meanwhile may not be served yet.
    pub data: &'static str,
    /// The background tasks by name (`listen`, `reload`, `schedule`, `geocode`): `up`,
    /// `restarting` (failed, restarted after a backoff) or `ended`, with their restarts.
    pub tasks: BTreeMap<&'static str, TaskStatus>,
}

/// How long the primary may take to answer the readiness probe.
const PRIMARY_PROBE: Duration = Duration::from_secs(1);

/// Ready when the read database answers and carries every migration of this binary
/// (else 503); says which part is degraded. A replica whose primary is down still
/// serves reads, so it stays in the load balancer (200).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody))
)]
pub async fn readyz(State(app): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    crate::db::check_migrated(&app.read)
        .await
        .map_err(|e| match e.downcast::<sqlx::Error>() {
            Ok(db) => ApiError::Database(db),
            Err(e) => ApiError::NotReady(e.to_string()),
        })?;
    let primary = tokio::time::timeout(PRIMARY_PROBE, sqlx::query("SELECT 1").execute(&app.pool))
        .await
        .is_ok_and(|r| r.is_ok());
    let lagging = app.live.lagging(app.replica_wait);
    let current = app.supervisor.data_current();
    Ok(Json(Readiness {
        status: if primary && !lagging && current {
            "ready"
        } else {
            "degraded"
        },
        primary: if primary { "ok" } else { "down" },
        read: if lagging { "lagging" } else { "ok" },
        data: if current { "current" } else { "may_be_stale" },
        tasks: app.supervisor.tasks(),
    }))
}

/// Prometheus text format: requests and latency by route, cache hits and misses,
/// imports, rows, durations, geocoder calls; and the business gauges computed now from
/// the open set served (`fleettickets_open_tickets{cluster,sla_state}`, ...; see the
/// README), for alert rules.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(
    State(app): State<AppState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    // The import gauges need the database; a scrape without it still has the rest.
    let imports = match tokio::join!(app.live.import_state(), last_run_ok(&app.read)) {
        (Ok(state), Ok(last_ok)) => Some(crate::gauges::Imports {
            last_checked_at: state.last_checked_at,
            content_max_updated_at: state.content_max_updated_at,
            last_ok,
        }),
        (Err(e), _) | (_, Err(e)) => {
            tracing::debug!(error = %e, "no import gauges in this scrape");
            None
        }
    };
    let open = app.live.current();
    let mut text = app.metrics.render();
    // One exposition: the registry's end marker goes after the gauges.
    text.truncate(text.trim_end().trim_end_matches("# EOF").len());
    text.push_str(&crate::gauges::render(
        &open.tickets,
        chrono::Utc::now(),
        &app.rules,
        imports.as_ref(),
        app.push.clients(),
    ));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Whether the last import run recorded did not fail (`None` before any).
async fn last_run_ok(read: &sqlx::PgPool) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar(
        "SELECT outcome <> 'failed' FROM tickets.import_meta
         ORDER BY finished_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(read)
    .await
}
