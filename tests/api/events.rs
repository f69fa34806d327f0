//! `GET /api/v1/events` on a real server: an import is announced once it is served,
//! `Last-Event-ID` replays or resyncs, the limit answers 503, the stream outlives a
//! database outage and a trip through nginx, and SIGTERM ends it cleanly.

use std::time::Duration;

use serde_json::Value;

use crate::app::{spawn_app, spawn_app_behind_proxy, spawn_app_with, TestApp};
use crate::cluster::{Nginx, Serve};
use crate::helpers::{import_text, temp_dir, test_db};

const HEAD: &str =
    "Ticket_ID,normalized_status,is_actionable,location_name,cluster,Closed_At,source_updated_at";

/// A snapshot with `open` open tickets in Nairobi (ids from `first`).
fn snapshot(first: usize, open: usize) -> String {
    let rows: String = (first..first + open)
        .map(|i| format!("INC{i},OPEN,true,Karen,Nairobi,,2026-06-16 07:00:00\n"))
        .collect();
    format!("{HEAD}\n{rows}")
}

/// One server-sent event as read off the wire.
#[derive(Debug, Default)]
pub struct Event {
    name: String,
    id: Option<String>,
    data: String,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("the data is JSON")
    }
}

/// Reads a `text/event-stream` body frame by frame (comments and `retry:` skipped).
pub struct Reader {
    response: reqwest::Response,
    buffer: String,
}

/// How long any one event may take to come (a deadline, not a speed check).
const PATIENCE: Duration = Duration::from_secs(30);

impl Reader {
    fn new(response: reqwest::Response) -> Reader {
        assert_eq!(response.status(), 200);
        Reader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event.name = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        event.id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data = v.to_owned();
                    }
                }
                if !event.name.is_empty() {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event within the deadline")
                .expect("the stream reads");
            self.buffer
                .push_str(std::str::from_utf8(&chunk?).expect("UTF-8"));
        }
    }

    pub async fn expect(&mut self, name: &str) -> Event {
        let event = self.next().await.expect("the stream is still open");
        assert_eq!(event.name, name, "{event:?}");
        event
    }
}

pub async fn stream(app: &TestApp, last_event_id: Option<&str>) -> Reader {
    let mut request = app.client.get(app.url("/api/v1/events"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    Reader::new(request.send().await.expect("the app answers"))
}

#[tokio::test]
async fn an_import_is_announced_once_served_with_its_id_key_and_new_etags() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/events").await;
    let h = response.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["x-accel-buffering"], "no");
    assert_eq!(h["cache-control"], "no-store");
    let mut events = Reader::new(response);
    let report = import_text(&app.db.pool, &snapshot(1, 3)).await;
    let id = report.import_id.expect("applied");
    let event = events.expect("data_changed").await;
    assert_eq!(event.id, Some(id.to_string()));
    let data = event.json();
    assert_eq!(data["import_id"], id);
    let key = data["snapshot_key"].as_str().unwrap();
    assert!(key.ends_with("/2026-06-16T071502.csv"), "{key}");
    assert_eq!(data["freshness"]["source_key"], key);
    // Served already: the first fetch after the event has the import, with the ETag
    // the event announced.
    let dashboard = app.get("/api/v1/inc/dashboard").await;
    assert_eq!(
        dashboard.headers()["etag"],
        data["etags"]["dashboard"].as_str().unwrap()
    );
    let body: Value = dashboard.json().await.unwrap();
    assert_eq!(body["metrics"]["open_count"], 3);
    let backlog = app.get("/api/v1/inc/backlog").await;
    assert_eq!(
        backlog.headers()["etag"],
        data["etags"]["backlog"].as_str().unwrap()
    );
}

#[tokio::test]
async fn last_event_id_replays_what_was_missed_or_resyncs_once() {
    let app = spawn_app().await;
    let mut live = stream(&app, None).await;
    let mut ids = Vec::new();
    for (n, name) in [
        "2026-06-16T071502.csv",
        "2026-06-16T081502.csv",
        "2026-06-16T091502.csv",
    ]
    .iter()
    .enumerate()
    {
        let dir = temp_dir();
        let path = crate::helpers::write_file(dir.path(), name, &snapshot(1, n + 1));
        let report =
            crate::helpers::import_path(&app.db.pool, &path, fleettickets::ingest::Mode::Apply)
                .await
                .unwrap();
        let event = live.expect("data_changed").await;
        assert_eq!(event.id, report.import_id.map(|i| i.to_string()));
        ids.push(event.id.unwrap());
    }
    // Back after the first: the two after it, in order, then the live ones.
    let mut resumed = stream(&app, Some(&ids[0])).await;
    for id in &ids[1..] {
        assert_eq!(resumed.expect("data_changed").await.id.as_ref(), Some(id));
    }
    let mut current = stream(&app, Some(&ids[2])).await;
    for bad in ["garbage", "99999999999999999999999", "1000000", "-3", ""] {
        let mut r = stream(&app, Some(bad)).await;
        let event = r.expect("resync").await;
        assert_eq!(event.id.as_ref(), Some(&ids[2]), "{bad:?}");
        assert_eq!(event.json()["import_id"].to_string(), ids[2]);
    }
    // The next event of an up-to-date client is the next import: nothing replayed.
    let report = import_text(&app.db.pool, &snapshot(10, 1)).await;
    let next = current.expect("data_changed").await;
    assert_eq!(next.id, report.import_id.map(|i| i.to_string()));
}

#[tokio::test]
async fn streams_need_a_reader_token_allow_cors_and_are_capped_with_503() {
    const TOKEN: &str = "0123456789abcdef-reader";
    let app = spawn_app_with(&[
        "--api-tokens",
        &format!("map:reader:{TOKEN}"),
        "--events-max-clients",
        "2",
        "--cors-origins",
        "https://fleetops.example",
    ])
    .await;
    assert_eq!(app.get("/api/v1/events").await.status(), 401);
    let open = |origin: Option<&'static str>| {
        let mut r = app.client.get(app.url("/api/v1/events")).bearer_auth(TOKEN);
        if let Some(origin) = origin {
            r = r.header("origin", origin);
        }
        r.send()
    };
    let first = open(Some("https://fleetops.example")).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.headers()["access-control-allow-origin"],
        "https://fleetops.example"
    );
    let second = open(None).await.unwrap();
    assert_eq!(second.status(), 200);
    let refused = open(None).await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "busy");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("EVENTS_MAX_CLIENTS"),
        "{body}"
    );
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/events"))
        .header("origin", "https://fleetops.example")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization,last-event-id",
        )
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("last-event-id"), "{allowed}");
    drop((first, second));
}

#[tokio::test]
async fn the_stream_stays_up_through_a_database_outage_and_announces_the_reload() {
    let (app, proxy) = spawn_app_behind_proxy().await;
    let mut events = stream(&app, None).await;
    proxy.cut();
    // Written while the app cannot hear of it (the test's own connection is direct).
    let report = import_text(&app.db.pool, &snapshot(1, 2)).await;
    proxy.restore();
    // LISTEN reconnects, assumes a change, reloads: the import is announced.
    loop {
        let event = events.expect("data_changed").await;
        if event.json()["import_id"] == report.import_id.unwrap() {
            break;
        }
    }
    let (_, body) = app.get_json("/api/v1/inc/dashboard").await;
    assert_eq!(body["metrics"]["open_count"], 2);
}

#[tokio::test]
async fn events_pass_through_nginx_and_sigterm_ends_the_streams() {
    let db = test_db().await;
    let dir = temp_dir();
    let env = [
        ("DATABASE_URL", db.url.clone()),
        (
            "BUCKET_DIR",
            dir.path().join("bucket").display().to_string(),
        ),
        ("INGEST_CRON", "off".to_owned()),
        ("SHUTDOWN_GRACE_SECS", "60".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let mut serve = Serve::spawn(
        env!("CARGO_BIN_EXE_fleettickets"),
        dir.path().join("serve.log"),
        &env,
    );
    // nginx with its default settings (proxy_buffering on) in front.
    let nginx = Nginx::start(&[serve.port], 1);
    let client = reqwest::Client::new();
    let open = |url: String| async { Reader::new(client.get(url).send().await.unwrap()) };
    let mut events = open(nginx.url("/api/v1/events")).await;
    let report = import_text(&db.pool, &snapshot(1, 1)).await;
    let event = events.expect("data_changed").await;
    assert_eq!(event.id, report.import_id.map(|i| i.to_string()));
    let mut direct = open(serve.url("/api/v1/events")).await;
    serve.terminate();
    assert!(direct.next().await.is_none(), "the stream ends");
    let status = serve.exit_within(Duration::from_secs(50));
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    assert!(!log.contains("still in flight after the grace"), "{log}");
}
