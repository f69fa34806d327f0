//! The built-in live INC map: the page under `static/`, its libraries from
//! `node_modules/` (installed by `npm ci` from the committed lockfile), and its settings.

use std::path::Path;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::services::ServeDir;
use utoipa::ToSchema;

use super::AppState;

/// The npm packages whose `dist/` folder the page loads, served under `/vendor/<name>/`.
const VENDORED: [&str; 2] = ["leaflet", "leaflet.markercluster"];

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

/// `/`, the page's files and `/vendor/...`; unknown files fall through to the JSON 404.
pub fn routes(static_dir: &Path, node_modules: &Path) -> Router<AppState> {
    let mut router = Router::new().route("/map-config.json", get(map_config));
    for package in VENDORED {
        router = router.nest_service(
            &format!("/vendor/{package}"),
            ServeDir::new(node_modules.join(package).join("dist")),
        );
    }
    router.fallback_service(
        ServeDir::new(static_dir).fallback(axum::routing::any(|| async {
            super::error::ApiError::NotFound("no such route".into())
        })),
    )
}
