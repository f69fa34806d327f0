//! The live map's files, embedded in the binary: content, types, ETags (checked against a
//! SHA-256 of the committed file computed here), cache lifetimes, 304s and the
//! `STATIC_DIR` override.

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use sha2::{Digest, Sha256};

use crate::app::{spawn_app, spawn_app_with};
use crate::helpers::{temp_dir, write_file};

/// The committed file under `static/`.
fn committed(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/static/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `"<first 32 hex digits of the SHA-256>"`.
fn strong_etag(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

#[tokio::test]
async fn the_page_and_its_libraries_are_served_from_the_binary() {
    let app = spawn_app().await;
    let cases = [
        ("/", "index.html", "text/html; charset=utf-8", "no-cache"),
        (
            "/app.js",
            "app.js",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
        ("/app.css", "app.css", "text/css; charset=utf-8", "no-cache"),
        (
            "/vendor/leaflet-1.9.4/leaflet.js",
            "vendor/leaflet-1.9.4/leaflet.js",
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        (
            "/vendor/leaflet-1.9.4/images/layers.png",
            "vendor/leaflet-1.9.4/images/layers.png",
            "image/png",
            "public, max-age=31536000, immutable",
        ),
        (
            "/vendor/leaflet.markercluster-1.5.3/MarkerCluster.css",
            "vendor/leaflet.markercluster-1.5.3/MarkerCluster.css",
            "text/css; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
    ];
    for (url, file, content_type, cache_control) in cases {
        let expected = committed(file);
        let r = app.get(url).await;
        assert_eq!(r.status(), 200, "{url}");
        let h = r.headers().clone();
        assert_eq!(h[CONTENT_TYPE], content_type, "{url}");
        assert_eq!(h[CACHE_CONTROL], cache_control, "{url}");
        assert_eq!(h[ETAG], strong_etag(&expected).as_str(), "{url}");
        assert!(
            r.bytes().await.unwrap() == expected,
            "{url}: the committed bytes"
        );
    }
}

#[tokio::test]
async fn if_none_match_gets_a_304_only_for_the_current_etag() {
    let app = spawn_app().await;
    let url = app.url("/vendor/leaflet-1.9.4/leaflet.js");
    let etag = strong_etag(&committed("vendor/leaflet-1.9.4/leaflet.js"));
    for (sent, status) in [
        (etag.clone(), 304),
        (format!("\"other\", W/{etag}"), 304),
        ("*".to_owned(), 304),
        ("\"0123456789abcdef0123456789abcdef\"".to_owned(), 200),
    ] {
        let r = app
            .client
            .get(&url)
            .header(IF_NONE_MATCH, &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "If-None-Match: {sent}");
        assert_eq!(r.headers()[ETAG], etag.as_str());
        let body = r.bytes().await.unwrap();
        assert_eq!(
            body.is_empty(),
            status == 304,
            "{sent}: {} bytes",
            body.len()
        );
    }
}

#[tokio::test]
async fn unknown_files_and_escapes_are_the_json_404() {
    let app = spawn_app().await;
    for path in [
        "/nothing.js",
        "/vendor/leaflet/leaflet.js",
        "/vendor/",
        "/%2e%2e/Cargo.toml",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"], "not found", "{path}: {body}");
    }
}

#[tokio::test]
async fn static_dir_overrides_single_files() {
    let dir = temp_dir();
    let css = "body { background: hotpink; }\n";
    write_file(dir.path(), "app.css", css);
    let app = spawn_app_with(&["--static-dir", &dir.path().display().to_string()]).await;

    let r = app.get("/app.css").await;
    assert_eq!(r.headers()[ETAG], strong_etag(css.as_bytes()).as_str());
    assert_eq!(r.text().await.unwrap(), css, "the folder's file wins");
    let js = app.get("/app.js").await.bytes().await.unwrap();
    assert!(js == committed("app.js"), "the rest is still embedded");
}
