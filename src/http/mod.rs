//! The HTTP surface: routes over a shared state.

pub mod health;

use std::sync::Arc;

use axum::Router;
use sqlx::PgPool;

use crate::events::Events;
use crate::ingest::run::Ingester;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    pub events: Events,
    pub ingester: Ingester,
}

pub fn router(state: AppState) -> Router {
    Router::new().merge(health::routes()).with_state(state)
}
