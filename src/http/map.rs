//! The built-in live INC map: its settings and its files (see `assets`).

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// What the page needs to know that only the server's configuration says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MapConfig {
    /// `{z}/{x}/{y}` tile template, or `none` for a plain background.
    pub tile_url: String,
    pub tile_attribution: String,
    /// A token is required for the API (the page then asks for one).
    pub auth_required: bool,
    /// How often the page refreshes, in seconds.
    pub refresh_secs: u64,
}

/// Settings for the live map page.
#[utoipa::path(get, path = "/map-config.json", tag = "map", responses((status = 200, body = MapConfig)))]
pub async fn map_config(State(app): State<AppState>) -> Json<MapConfig> {
    Json(app.map.clone())
}

/// `/`, the page's files and `/vendor/...` (any path no other route claims); unknown
/// files are the JSON 404.
pub fn routes(static_dir: Option<&Path>) -> Router<AppState> {
    let dir: Option<Arc<Path>> = static_dir.map(Arc::from);
    Router::new()
        .route("/map-config.json", get(map_config))
        .fallback(get(move |uri: Uri, headers: HeaderMap| {
            let dir = dir.clone();
            async move { super::assets::serve(dir.as_deref(), &uri, &headers).await }
        }))
}
