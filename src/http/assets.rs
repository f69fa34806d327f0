//! The live map's files: `static/` (the page, and its libraries pinned under
//! `static/vendor/<name>-<version>/`) embedded in the binary at compile time, so the binary
//! alone serves the map. With `STATIC_DIR` set, a file found in that folder is served
//! instead of the embedded one of the same name (to restyle the page without a rebuild).

use std::borrow::Cow;
use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::cache::if_none_match;
use super::error::ApiError;

/// `debug-embed` (Cargo.toml) embeds in debug builds too, so every build is self-contained.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Embedded;

/// Library files live in versioned folders: a new version is a new URL, so a browser may
/// keep them for a year without asking again. The page's own files are revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// One file to serve.
struct Asset {
    bytes: Cow<'static, [u8]>,
    /// Strong: the first 128 bits of the content's SHA-256.
    etag: HeaderValue,
}

impl Asset {
    fn new(bytes: Cow<'static, [u8]>, sha256: [u8; 32]) -> Asset {
        let hex: String = sha256[..16].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header");
        Asset { bytes, etag }
    }
}

/// The file a request path names, relative to the static folder (`/` is `index.html`);
/// `None` for anything that could leave the folder.
fn asset_path(uri_path: &str) -> Option<&str> {
    let path = uri_path.strip_prefix('/').unwrap_or(uri_path);
    if path.is_empty() {
        return Some("index.html");
    }
    let plain = !path.contains('\\')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    plain.then_some(path)
}

fn cache_control(path: &str) -> &'static str {
    if path.starts_with("vendor/") {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// The type from the extension; text (JavaScript included) is UTF-8.
fn content_type(path: &str) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text =
        mime.type_() == mime_guess::mime::TEXT || mime.subtype() == mime_guess::mime::JAVASCRIPT;
    if text && mime.get_param(mime_guess::mime::CHARSET).is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

fn embedded(path: &str) -> Option<Asset> {
    Embedded::get(path).map(|f| Asset::new(f.data, f.metadata.sha256_hash()))
}

async fn from_dir(dir: &Path, path: &str) -> Option<Asset> {
    let file = dir.join(path);
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let sha256 = Sha256::digest(&bytes).into();
            Some(Asset::new(Cow::Owned(bytes), sha256))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "STATIC_DIR file unreadable; serving the embedded one");
            None
        }
    }
}

/// `GET` of any path no route claimed: a map file (304 when `If-None-Match` matches), else
/// the JSON 404.
pub async fn serve(static_dir: Option<&Path>, uri: &Uri, request: &HeaderMap) -> Response {
    let Some(path) = asset_path(uri.path()) else {
        return ApiError::NotFound("no such route".into()).into_response();
    };
    let overridden = match static_dir {
        Some(dir) => from_dir(dir, path).await,
        None => None,
    };
    let Some(asset) = overridden.or_else(|| embedded(path)) else {
        return ApiError::NotFound("no such route".into()).into_response();
    };
    let mut response = if if_none_match(request, &asset.etag) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(asset.bytes));
        if let Ok(value) = HeaderValue::from_str(&content_type(path)) {
            r.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, asset.etag);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(path)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_folder() {
        assert_eq!(asset_path("/"), Some("index.html"));
        assert_eq!(asset_path("/app.js"), Some("app.js"));
        assert_eq!(
            asset_path("/vendor/leaflet-1.9.4/images/layers.png"),
            Some("vendor/leaflet-1.9.4/images/layers.png")
        );
        for bad in [
            "/../Cargo.toml",
            "/vendor/../../x",
            "/./app.js",
            "//etc/passwd",
            "/vendor/",
            "/a\\..\\b",
        ] {
            assert_eq!(asset_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_versioned_libraries_are_immutable() {
        assert_eq!(cache_control("vendor/leaflet-1.9.4/leaflet.js"), IMMUTABLE);
        assert_eq!(cache_control("index.html"), REVALIDATE);
        assert_eq!(cache_control("app.js"), REVALIDATE);
    }

    #[test]
    fn text_types_say_utf8() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert!(content_type("app.js").ends_with("javascript; charset=utf-8"));
        assert_eq!(content_type("images/layers.png"), "image/png");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn the_etag_is_the_quoted_hash_prefix() {
        let sha256: [u8; 32] = Sha256::digest(b"abc").into();
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a3...
        assert_eq!(
            Asset::new(Cow::Borrowed(b"abc"), sha256).etag,
            "\"ba7816bf8f01cfea414140de5dae2223\""
        );
    }

    #[test]
    fn the_page_and_its_libraries_are_embedded() {
        for path in [
            "index.html",
            "app.js",
            "app.css",
            "vendor/leaflet-1.9.4/leaflet.js",
            "vendor/leaflet-1.9.4/LICENSE",
            "vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js",
        ] {
            assert!(embedded(path).is_some(), "{path}");
        }
    }
}
