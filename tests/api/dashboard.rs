//! The read API over HTTP: the sample's numbers, every bad input, auth, caching,
//! compression, a dead database and the OpenAPI document.

use std::io::Read;

use reqwest::header;
use serde_json::{json, Value};

use crate::app::{spawn_app, spawn_app_behind_proxy, spawn_app_with, TestApp};
use crate::helpers::test_data;

const AS_OF: &str = "as_of=2026-06-16T10:00:00%2B03:00";

async fn import_sample(app: &TestApp) {
    app.import(&test_data("inc-sample.csv")).await;
}

fn counts(v: &Value) -> (u64, u64) {
    (
        v["metrics"]["open_count"].as_u64().unwrap(),
        v["metrics"]["closed_count"].as_u64().unwrap(),
    )
}

// Counts worked out from tests/data/inc-sample.csv with a throwaway Python script.
#[tokio::test]
async fn the_sample_through_the_api() {
    let app = spawn_app().await;
    import_sample(&app).await;
    let (status, week) = app
        .get_json(&format!("/api/v1/inc/dashboard?window=week&{AS_OF}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(counts(&week), (39, 8));
    assert_eq!(week["open"]["features"].as_array().unwrap().len(), 39);
    // Valid GeoJSON (RFC 7946), as the geojson crate reads it. Every ticket has a point
    // (feed or cluster centroid) but the one without a cluster.
    for (set, placed) in [("open", 39), ("closed", 7)] {
        let fc: geojson::FeatureCollection = week[set].to_string().parse().unwrap();
        let with_point = fc.features.iter().filter(|f| f.geometry.is_some()).count();
        assert_eq!(with_point, placed, "{set}");
    }
    assert_eq!(week["closed"]["features"].as_array().unwrap().len(), 8);
    let (_, today) = app
        .get_json(&format!("/api/v1/inc/dashboard?{AS_OF}"))
        .await;
    assert_eq!(counts(&today), (39, 3));
    let (_, june) = app
        .get_json(&format!("/api/v1/inc/dashboard?window=month&{AS_OF}"))
        .await;
    assert_eq!(counts(&june), (39, 52));
    assert_eq!(june["metrics"]["daily"].as_array().unwrap().len(), 30);
    let (_, feb) = app
        .get_json("/api/v1/inc/dashboard?window=custom&from=2026-02-01&to=2026-03-01")
        .await;
    assert_eq!(counts(&feb), (39, 36));
    let (_, westlands) = app
        .get_json(&format!(
            "/api/v1/inc/dashboard?window=month&cluster=WESTLANDS&{AS_OF}"
        ))
        .await;
    assert_eq!(counts(&westlands), (6, 2));
    assert_eq!(
        westlands["filters"],
        json!({"cluster": ["WESTLANDS"], "status": []})
    );
    // Freshness of the import.
    assert_eq!(week["freshness"]["truncated"], true);
    assert_eq!(
        week["freshness"]["content_max_updated_at"],
        "2026-06-14T10:29:51+03:00"
    );
    assert_eq!(week["freshness"]["content_lag_hours"], 47.5);
    assert_eq!(week["freshness"]["stale"], false);
}

#[tokio::test]
async fn every_bad_parameter_gets_a_400_naming_it() {
    let app = spawn_app().await;
    let cases = [
        ("window=year", "window"),
        ("window=custom", "from"),
        ("window=custom&from=2026-06-01", "to"),
        ("window=custom&from=2026-06-01&to=2026-06-01", "to"),
        ("window=custom&from=2026-06-02&to=2026-06-01", "to"),
        ("window=custom&from=2025-06-01&to=2026-06-03", "to"),
        ("window=custom&from=June&to=2026-06-03", "from"),
        ("from=2026-06-01", "from"),
        ("window=month&to=2026-06-01", "to"),
        ("as_of=yesterday", "as_of"),
        ("status=DONE", "status"),
        ("region=coast", "region"),
        // Extremes: none may panic, drop the connection or reach the database.
        ("window=custom&from=-262143-01-01&to=2026-01-01", "from"),
        ("window=custom&from=0000-01-01&to=0000-06-01", "from"),
        ("window=custom&from=2026-01-01&to=%2B262142-12-31", "to"),
        ("as_of=9999-12-31T23:59:59Z", "as_of"),
        ("as_of=-0001-01-01T00:00:00Z", "as_of"),
        ("window=month&as_of=0000-12-31T20:59:59Z", "as_of"),
        ("cluster=%00", "cluster"),
        ("cluster=West%00lands", "cluster"),
        ("status=%1B%5B31m", "status"),
        ("cluster=%FF%FE", "cluster"),
    ];
    for (query, param) in cases {
        let (status, body) = app
            .get_json(&format!("/api/v1/inc/dashboard?{query}"))
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["parameter"], param, "{query}");
        assert_eq!(
            body["error"],
            format!("invalid parameter `{param}`"),
            "{query}"
        );
        assert!(
            body["detail"].as_str().unwrap().len() > 5,
            "{query}: {body}"
        );
    }
    let huge = format!("cluster={}", "W".repeat(20_000));
    let (status, body) = app.get_json(&format!("/api/v1/inc/dashboard?{huge}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (414, Some("URI too long"))
    );
    // Headers too large: ours is a JSON 431 naming the largest; past hyper's own limit
    // (100 fields) hyper answers 431 itself, without a body (see docs/decisions.md).
    let r = app
        .client
        .get(app.url("/api/v1/inc/dashboard"))
        .header("x-big", "a".repeat(9000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "request headers too large");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("the largest `x-big` 9005 bytes"),
        "{detail}"
    );
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..101 {
        many.insert(
            reqwest::header::HeaderName::try_from(format!("x-h{i}")).unwrap(),
            "1".parse().unwrap(),
        );
    }
    let r = app
        .client
        .get(app.url("/api/v1/inc/dashboard"))
        .headers(many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(r.text().await.unwrap(), "", "hyper's own 431 has no body");
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/inc/dashboard?cluster={}",
            "W".repeat(2000)
        ))
        .await;
    assert_eq!((status, body["parameter"].as_str()), (400, Some("cluster")));
    // The supported range's edges are served.
    for query in [
        "window=custom&from=0001-01-01&to=0001-12-31",
        "window=month&as_of=9998-12-31T23:59:59-23:59",
    ] {
        let (status, body) = app
            .get_json(&format!("/api/v1/inc/dashboard?{query}"))
            .await;
        assert_eq!(status, 200, "{query}: {body}");
    }
    // Routes that take no parameters refuse them by name.
    for (path, param) in [
        ("/api/v1/clusters?x=1", "x"),
        ("/api/v1/statuses?window=week", "window"),
        ("/api/v1/freshness?as_of=x", "as_of"),
        ("/api/v1/inc/tickets/INC1?full=1", "full"),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body["parameter"].as_str()),
            (400, Some(param)),
            "{path}"
        );
    }
    // A path segment that no ticket id can be, and a method no route takes.
    for path in ["/api/v1/inc/tickets/%00", "/api/v1/inc/tickets/%C3%28"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad request")),
            "{path}"
        );
    }
    let r = app
        .client
        .delete(app.url("/api/v1/inc/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()[header::ALLOW], "GET,HEAD");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "method not allowed");
    // 366 days is allowed.
    let (status, _) = app
        .get_json("/api/v1/inc/dashboard?window=custom&from=2025-06-01&to=2026-06-02")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn tickets_freshness_choices_and_unknown_routes() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/inc/tickets/INC404").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not found")));
    import_sample(&app).await;
    let (status, t) = app.get_json("/api/v1/inc/tickets/INC000012495858").await;
    assert_eq!(status, 200);
    assert_eq!(
        (t["mttr"].as_i64(), t["raw"]["mttr"].as_str()),
        (Some(2636), Some("43.925"))
    );
    assert_eq!(t["closed_at"], "2026-02-17T00:41:29+03:00");
    let (_, clusters) = app.get_json("/api/v1/clusters").await;
    let westlands = clusters
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Westlands")
        .unwrap();
    assert_eq!(
        (westlands["open"].as_i64(), westlands["total"].as_i64()),
        (Some(6), Some(42))
    );
    assert_eq!(clusters.as_array().unwrap().len(), 30);
    let (_, statuses) = app.get_json("/api/v1/statuses").await;
    let names: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CANCELLED",
            "CLOSED",
            "IN_PROGRESS",
            "OPEN",
            "PENDING",
            "RESOLVED"
        ]
    );
    let (status, f) = app.get_json("/api/v1/freshness").await;
    assert_eq!(
        (status, f["source_etag"].as_str().map(str::len)),
        (200, Some(32))
    );
    let (status, body) = app.get_json("/api/v1/nothing").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not found")));
    assert_eq!(app.get("/healthz").await.text().await.unwrap(), "ok");
    let (status, mut ready) = app.get_json("/readyz").await;
    let tasks = ready.as_object_mut().unwrap().remove("tasks").unwrap();
    assert_eq!(
        (status, ready),
        (
            200,
            json!({"status": "ready", "primary": "ok", "read": "ok", "data": "current"})
        )
    );
    let up = json!({"state": "up", "restarts": 0});
    assert_eq!(
        tasks,
        json!({"events": up, "geocode": up, "listen": up, "reload": up}),
        "no schedule with INGEST_CRON=off"
    );
}

#[tokio::test]
async fn tokens_guard_every_read_and_admin_route() {
    let reader = "0123456789abcdef-reader";
    let admin = "0123456789abcdef-admin";
    let tokens = format!("grafana:reader:{reader},ops:admin:{admin}");
    let app = spawn_app_with(&["--api-tokens", &tokens]).await;
    for path in [
        "/api/v1/inc/dashboard",
        "/api/v1/inc/tickets/INC1",
        "/api/v1/freshness",
        "/api/v1/clusters",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 401, "{path} without a token");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let r = app.get_as(path, "wrong-token-wrong-token").await;
        assert_eq!(r.status(), 401, "{path} with a wrong token");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["detail", "error"],
            "no data"
        );
    }
    let r = app.get_as("/api/v1/freshness", reader).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.start_import(reader).await.0, 403);
    let (status, location, job) = app.start_import(admin).await;
    assert_eq!((status, job["status"].as_str()), (202, Some("running")));
    let location = location.unwrap();
    assert_eq!(location, format!("/api/v1/admin/imports/{}", job["id"]));
    assert_eq!(app.get_as(&location, reader).await.status(), 403);
    let job = app.finished_job(&location, admin).await;
    assert_eq!(job["status"], "done");
    assert_eq!(
        job["report"],
        json!({"skipped_locked": false, "snapshots": []})
    );
    // A snapshot in the (local-folder) bucket is imported and archived on demand.
    let inbox = app.bucket_dir.path().join("automations/inc");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(
        test_data("inc-sample.csv"),
        inbox.join("2026-06-16T071502.csv"),
    )
    .unwrap();
    let (status, location, _) = app.start_import(admin).await;
    assert_eq!(status, 202);
    let job = app.finished_job(&location.unwrap(), admin).await;
    let report = &job["report"];
    assert_eq!(report["snapshots"][0]["outcome"], "imported");
    assert_eq!(report["snapshots"][0]["report"]["changes"]["new"], 386);
    assert!(inbox.join("processed/2026-06-16T071502.csv").exists());
    let r = app.get_as("/api/v1/freshness", admin).await;
    let freshness: Value = r.json().await.unwrap();
    assert_eq!(freshness["snapshot_at"], "2026-06-16T07:15:02+03:00");
    // Without tokens the read API is open and admin routes are refused.
    let open = spawn_app().await;
    assert_eq!(open.get("/api/v1/freshness").await.status(), 200);
    let r = open
        .client
        .post(open.url("/api/v1/admin/import"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn cached_responses_hit_revalidate_compress_and_drop_on_import() {
    let app = spawn_app().await;
    let mut events = crate::events::stream(&app, None).await;
    import_sample(&app).await;
    // The event stream builds the default dashboard before it announces the import.
    events.expect("data_changed").await;
    let path = format!("/api/v1/inc/dashboard?window=week&{AS_OF}");
    let hits = r#"fleettickets_dashboard_cache_total{outcome="hit"}"#;
    let misses = r#"fleettickets_dashboard_cache_total{outcome="miss"}"#;
    // Settling after the import made a miss or two (polling before and after the app
    // heard of it, and the event's own build): counted from here.
    let settled = (app.metric(misses).await, app.metric(hits).await);
    let first = app.get(&path).await;
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
    let cache_control = first.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    assert!(
        cache_control.starts_with("private, max-age="),
        "{cache_control}"
    );
    let max_age: u64 = cache_control.rsplit('=').next().unwrap().parse().unwrap();
    assert!(max_age <= 60);
    let plain: Value = first.json().await.unwrap();
    assert_eq!(
        (app.metric(misses).await, app.metric(hits).await),
        (settled.0 + 1.0, settled.1),
        "this request was one miss"
    );

    // The same request again is a hit, and gzip decodes to the same JSON.
    let gz = app
        .client
        .get(app.url(&path))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gz.headers()[header::ETAG].to_str().unwrap(), etag);
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
        .read_to_string(&mut json)
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), plain);
    assert_eq!(app.metric(hits).await, settled.1 + 1.0);

    // If-None-Match → 304 without a body.
    let r = app
        .client
        .get(app.url(&path))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty());

    // An import that writes rows drops the cache (through NOTIFY → LISTEN).
    let dir = crate::helpers::temp_dir();
    let csv = "ticket_id,is_actionable,normalized_status,cluster\nINC999,true,OPEN,Karen\n";
    let file = crate::helpers::write_file(dir.path(), "new.csv", csv);
    app.import(&file).await;
    let after = app.get_json(&path).await.1;
    assert_eq!(
        after["metrics"]["open_count"], 40,
        "the import's ticket is served"
    );
    let r = app
        .client
        .get(app.url(&path))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the old ETag no longer matches");
}

#[tokio::test]
async fn a_dead_database_gets_503_and_the_service_recovers() {
    let (app, proxy) = spawn_app_behind_proxy().await;
    assert_eq!(app.get("/api/v1/freshness").await.status(), 200);
    proxy.cut();
    for path in ["/api/v1/freshness", "/api/v1/inc/dashboard", "/readyz"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 503, "{path}");
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"], "database unavailable",
            "{path} says what is down"
        );
        assert!(
            !body.to_string().contains("127.0.0.1"),
            "no internals leak: {body}"
        );
    }
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "alive though not ready"
    );
    proxy.restore();
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/api/v1/inc/dashboard").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200, "recovered by itself");
}

#[tokio::test]
async fn the_openapi_document_is_served_valid_and_committed() {
    let app = spawn_app().await;
    let served = app.get("/openapi.json").await.text().await.unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap_or_default();
    assert!(
        served == committed,
        "openapi/openapi.json is out of date: run `cargo run -q -- openapi > openapi/openapi.json`"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/inc/dashboard",
        "/api/v1/inc/tickets/{ticket_id}",
        "/api/v1/freshness",
        "/api/v1/clusters",
        "/api/v1/statuses",
        "/api/v1/admin/import",
        "/api/v1/admin/imports/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/inc/dashboard"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        [
            "window",
            "from",
            "to",
            "cluster",
            "status",
            "as_of",
            "If-None-Match"
        ]
    );
    // Every $ref resolves.
    for r in served
        .match_indices("\"$ref\": \"#/components/schemas/")
        .map(|(i, _)| &served[i + 30..])
    {
        let name = &r[..r.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "schema {name} exists"
        );
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "the docs page is served locally"
    );
}
