//! The Grafana `backlog` and `backlog_flow` metrics over a history made by real imports
//! (the generated hourly series of `series`): every datapoint is the backlog route's
//! point for the same range, interval and filters, plotted at its `end`.

use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp};
use crate::bucket::ingester;
use crate::grafana::{assert_series, assert_table, post, query, query_range, target};
use crate::series::series;
use fleettickets::config::BucketConfig;
use fleettickets::ingest::Mode;

/// 03:00 to 18:30 EAT: three hours before capture start (06:00), a partial last hour.
const FROM: &str = "2026-06-16T00:00:00.000Z";
const TO: &str = "2026-06-16T15:30:00.000Z";
const OPEN: [&str; 5] = ["open", "within", "at_risk", "breached", "unknown"];
const FLOW: [&str; 2] = ["entered", "left"];

/// The app over the generated series, once it serves the history.
async fn app_with_history() -> TestApp {
    let app = spawn_app().await;
    let ing = ingester(&app.db, &BucketConfig::local(app.bucket_dir.path()));
    for (name, body) in series() {
        ing.bucket.put_snapshot(&name, body).await.unwrap();
    }
    ing.run(Mode::Apply).await.unwrap();
    // The app hears of the imports through NOTIFY; its cache key follows the data.
    for _ in 0..100 {
        let (_, b) = route(&app, "from=2026-06-16&to=2026-06-17").await;
        if b["capture_started_at"].is_string() {
            return app;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the app did not pick up the history");
}

async fn route(app: &TestApp, query: &str) -> (u16, Value) {
    app.get_json(&format!("/api/v1/inc/backlog?{query}")).await
}

/// A `/query` body for the backlog metrics over `[from, to)` at `interval_ms`.
fn body(targets: Value, from: &str, to: &str, interval_ms: Value) -> Value {
    let mut b = query_range(targets, from, to);
    b["intervalMs"] = interval_ms;
    b
}

fn both(payload: Value) -> Value {
    json!([
        target("A", "backlog", payload.clone()),
        target("B", "backlog_flow", payload)
    ])
}

/// The datapoints Grafana should get for a column of the route's points.
fn expected(points: &Value, column: &str) -> Value {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let end = chrono::DateTime::parse_from_rfc3339(p["end"].as_str().unwrap()).unwrap();
            json!([p[column], end.timestamp_millis()])
        })
        .collect()
}

/// Every series of both metrics equals the route's points.
fn assert_same(frames: &[Value], points: &Value) {
    let got: Vec<(&str, &str)> = frames
        .iter()
        .map(|f| {
            assert_series(f);
            (f["refId"].as_str().unwrap(), f["target"].as_str().unwrap())
        })
        .collect();
    let want: Vec<(&str, &str)> = OPEN
        .iter()
        .map(|c| ("A", *c))
        .chain(FLOW.iter().map(|c| ("B", *c)))
        .collect();
    assert_eq!(got, want);
    for f in frames {
        let column = f["target"].as_str().unwrap();
        assert_eq!(f["datapoints"], expected(points, column), "{column}");
    }
}

#[tokio::test]
async fn backlog_metrics_are_the_routes_points_from_its_cache_entry() {
    let app = app_with_history().await;
    // The route answers the same request from the entry the query cached (retried while
    // the app may still be hearing of the last imports, which renew the cache).
    let hits = r#"fleettickets_dashboard_cache_total{outcome="hit"}"#;
    let mut shared = None;
    for _ in 0..20 {
        let frames = query(&app, &body(both(json!({})), FROM, TO, json!(1_800_000))).await;
        let hits_before = app.metric(hits).await;
        let (status, hourly) = route(&app, &format!("from={FROM}&to={TO}&interval=hour")).await;
        assert_eq!(status, 200, "{hourly}");
        if app.metric(hits).await == hits_before + 1.0 {
            shared = Some((frames, hourly));
            break;
        }
    }
    let (frames, hourly) = shared.expect("Grafana and the route share one cache entry");
    let points = &hourly["points"];
    assert_eq!(
        points.as_array().unwrap().len(),
        16,
        "03:00 to 18:30 hourly"
    );
    assert_same(&frames, points);
    // Before capture start (06:00 EAT) every count stays null; from it on, numbers.
    let open = &frames[0]["datapoints"];
    assert_eq!(open[0], json!([null, 1_781_571_600_000i64]), "04:00 EAT");
    assert_eq!(open[1][0], Value::Null);
    assert!(open[2][0].as_i64().unwrap() > 100, "06:00 EAT: {}", open[2]);
    assert_eq!(frames[5]["datapoints"][1][0], Value::Null, "no flow either");
    // The last point ends at the range's end, 18:30 EAT.
    assert_eq!(open[15][1], 1_781_623_800_000i64);
    // Some flow happened: the series changes every hour.
    let entered: i64 = frames[5]["datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[0].as_i64())
        .sum();
    assert!(entered > 0);

    // A day per point or more: daily buckets (EAT days), over more than the dashboard's
    // 366 days too.
    let (from, to) = ("2026-06-14T21:00:00.000Z", "2026-06-16T21:00:00.000Z");
    let frames = query(&app, &body(both(json!({})), from, to, json!(86_400_000))).await;
    let (_, daily) = route(&app, &format!("from={from}&to={to}&interval=day")).await;
    assert_eq!(daily["interval"], "day");
    assert_eq!(daily["points"].as_array().unwrap().len(), 2);
    assert_same(&frames, &daily["points"]);
    assert_eq!(
        frames[0]["datapoints"][0][0],
        Value::Null,
        "06-15: before capture"
    );
    assert!(frames[0]["datapoints"][1][0].is_i64());
    let years = body(
        both(json!({})),
        "2024-06-15T21:00:00.000Z",
        to,
        json!(604_800_000),
    );
    let frames = query(&app, &years).await;
    assert_eq!(frames[0]["datapoints"].as_array().unwrap().len(), 731);
    // Just under a day per point: hourly. Without intervalMs: the route's default.
    let frames = query(&app, &body(both(json!({})), FROM, TO, json!(86_399_999))).await;
    assert_same(&frames, points);
    let frames = query(&app, &body(both(json!({})), from, to, Value::Null)).await;
    let (_, default) = route(&app, &format!("from={from}&to={to}")).await;
    assert_eq!(default["interval"], "hour");
    assert_same(&frames, &default["points"]);

    // The table format: a time column and one column per count.
    let table = query(
        &app,
        &body(
            json!([target("T", "backlog", json!({"format": "table"}))]),
            FROM,
            TO,
            json!(1_800_000),
        ),
    )
    .await;
    assert_eq!(
        assert_table(&table[0]),
        ["time", "open", "within", "at_risk", "breached", "unknown"]
    );
    assert_eq!(table[0]["rows"][2][0], expected(points, "open")[2][1]);
    assert_eq!(table[0]["rows"][2][1], points[2]["open"]);
}

#[tokio::test]
async fn backlog_metrics_take_the_panels_filters_and_the_routes_refusals() {
    let app = app_with_history().await;
    let (_, clusters) = app.get_json("/api/v1/clusters").await;
    let busiest = clusters
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|c| c["open"].as_i64())
        .unwrap();
    let cluster = busiest["name"].as_str().unwrap().to_owned();
    // A cluster from the payload (a variable's value) and a status as an ad hoc filter.
    let mut b = body(
        both(json!({"cluster": [cluster.replace(' ', "\\ ")]})),
        FROM,
        TO,
        json!(3_600_000),
    );
    b["filters"] = json!([{"key": "status", "operator": "=", "value": "open"}]);
    let frames = query(&app, &b).await;
    let (_, filtered) = route(
        &app,
        &format!(
            "from={FROM}&to={TO}&interval=hour&cluster={}&status=OPEN",
            cluster.replace(' ', "%20")
        ),
    )
    .await;
    assert_eq!(filtered["filters"]["cluster"], json!([cluster]));
    assert_same(&frames, &filtered["points"]);
    let (_, all) = route(&app, &format!("from={FROM}&to={TO}&interval=hour")).await;
    let last = |b: &Value| b["points"][15]["open"].as_i64().unwrap();
    assert!(
        0 < last(&filtered) && last(&filtered) < last(&all),
        "the filters narrow the backlog: {} of {}",
        last(&filtered),
        last(&all)
    );

    // Too many buckets and bad ranges: the route's own 400 (with Grafana's message).
    let hourly = "2024-06-16T00:00:00.000Z";
    for (from, to, ms, query) in [
        (
            hourly,
            TO,
            json!(3_600_000),
            format!("from={hourly}&to={TO}&interval=hour"),
        ),
        (
            "now-6h",
            TO,
            json!(3_600_000),
            format!("from=now-6h&to={TO}&interval=hour"),
        ),
        (
            TO,
            FROM,
            json!(3_600_000),
            format!("from={TO}&to={FROM}&interval=hour"),
        ),
    ] {
        let (status, error) =
            post(&app, "/grafana/query", &body(both(json!({})), from, to, ms)).await;
        let (route_status, route_error) = route(&app, &query).await;
        assert_eq!((status, route_status), (400, 400), "{error}");
        // The same refusal, naming the panel's `range.from`/`range.to` where the route
        // names its `from`/`to`.
        for key in ["error", "detail", "parameter"] {
            let grafana = error[key].to_string().replace("range.", "");
            assert_eq!(grafana, route_error[key].to_string(), "{query}: {key}");
        }
        if route_error["parameter"] == "from" || route_error["parameter"] == "to" {
            assert!(error["parameter"].as_str().unwrap().starts_with("range."));
        }
        assert!(error["message"]
            .as_str()
            .unwrap()
            .contains("invalid parameter"));
    }
    let (status, error) = post(
        &app,
        "/grafana/query",
        &body(both(json!({})), hourly, TO, json!(3_600_000)),
    )
    .await;
    assert_eq!(
        (status, error["parameter"].as_str()),
        (400, Some("interval"))
    );
    assert!(error["detail"].as_str().unwrap().contains("more than 8784"));
    // What the backlog cannot take is refused, never ignored.
    for (payload, filters, said) in [
        (json!({}), json!([]), "intervalMs"),
        (json!({"region": ["nairobi"]}), json!([]), "region"),
        (
            json!({}),
            json!([{"key": "cluster", "operator": "!=", "value": "Karen"}]),
            "cluster",
        ),
    ] {
        let mut b = body(both(payload), FROM, TO, json!(3_600_000));
        b["filters"] = filters;
        if said == "intervalMs" {
            b["intervalMs"] = json!("1h");
        }
        let (status, error) = post(&app, "/grafana/query", &b).await;
        assert_eq!(status, 400, "{error}");
        assert!(error["message"].as_str().unwrap().contains(said), "{error}");
    }
}
