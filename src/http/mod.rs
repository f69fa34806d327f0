//! The HTTP surface: routes over a shared state.

pub mod health;

use axum::Router;
use sqlx::PgPool;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
}

pub fn router(state: AppState) -> Router {
    Router::new().merge(health::routes()).with_state(state)
}
