//! The Grafana JSON datasource backend (`/grafana`), driven with bodies shaped as the
//! simpod-json-datasource plugin sends them (unknown fields included), checked against
//! the shapes the plugin accepts and against the dashboard API's numbers.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::app::{spawn_app, spawn_app_with, TestApp};
use crate::helpers::test_data;

const FROM: &str = "2026-06-01T00:00:00.000Z";
const TO: &str = "2026-06-16T21:00:00.000Z";
const DS: &str = "simpod-json-datasource";

/// Every metric the catalogue offers.
const METRICS: [&str; 14] = [
    "open_count",
    "closed_count",
    "closure_rate",
    "avg_mttr_minutes",
    "created_per_day",
    "closed_per_day",
    "sla_open",
    "sla_closed",
    "by_cluster",
    "open_tickets",
    "teams",
    "imports",
    "backlog",
    "backlog_flow",
];

pub async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    post_as(app, path, body, None).await
}

async fn post_as(app: &TestApp, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.post(app.url(path)).json(body);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON body"))
}

/// A panel target as the plugin sends it (builder mode; `target` and payload already
/// interpolated).
pub fn target(ref_id: &str, metric: &str, payload: Value) -> Value {
    json!({
        "refId": ref_id, "target": metric, "payload": payload, "editorMode": "builder",
        "hide": false, "key": format!("Q-{ref_id}"), "queryType": "",
        "datasource": {"type": DS, "uid": "fleettickets"},
    })
}

/// A `/query` body as Grafana + the plugin build it, for the sample's window.
fn query_body(targets: Value) -> Value {
    query_range(targets, FROM, TO)
}

pub fn query_range(targets: Value, from: &str, to: &str) -> Value {
    json!({
        "app": "dashboard", "requestId": "Q102", "timezone": "browser",
        "panelId": 2, "dashboardUID": "fleettickets-inc-operations", "panelPluginId": "stat",
        "range": {"from": from, "to": to, "raw": {"from": "now-15d", "to": "now"}},
        "rangeRaw": {"from": "now-15d", "to": "now"},
        "interval": "30m", "intervalMs": 1_800_000, "maxDataPoints": 1920,
        "targets": targets,
        "scopedVars": {
            "__interval": {"text": "30m", "value": "30m"},
            "__interval_ms": {"text": "1800000", "value": 1_800_000},
            "cluster": {"selected": false, "text": "All", "value": ["$__all"]},
        },
        "startTime": 1_781_643_600_000i64,
        "filters": [],
        "cacheTimeout": null,
        "queryCachingTTL": null,
    })
}

/// `/api/v1/inc/dashboard` for the same window, with extra query parameters, at the
/// range's end (Grafana's `as_of` for a range that ended).
async fn dashboard(app: &TestApp, extra: &str) -> Value {
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/inc/dashboard?window=custom&from={FROM}&to={TO}&as_of={TO}{extra}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub async fn query(app: &TestApp, body: &Value) -> Vec<Value> {
    let (status, frames) = post(app, "/grafana/query", body).await;
    assert_eq!(status, 200, "{frames}");
    frames.as_array().unwrap().clone()
}

/// The single value of a one-point series.
fn single(frames: &[Value], ref_id: &str) -> Value {
    let f = frames.iter().find(|f| f["refId"] == ref_id).unwrap();
    let points = f["datapoints"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{f}");
    points[0][0].clone()
}

/// A time series as the plugin's `toDataFrame` takes it.
pub fn assert_series(f: &Value) {
    assert!(f["target"].is_string(), "{f}");
    assert!(f["refId"].is_string(), "{f}");
    for p in f["datapoints"].as_array().unwrap() {
        let p = p.as_array().unwrap();
        assert_eq!(p.len(), 2, "{f}");
        assert!(p[0].is_number() || p[0].is_null(), "{f}");
        assert!(p[1].is_i64(), "epoch milliseconds: {f}");
    }
}

/// A table: `type: table`, typed columns, rows as wide as the columns.
pub fn assert_table(f: &Value) -> Vec<&str> {
    assert_eq!(f["type"], "table", "{f}");
    let columns: Vec<&str> = f["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(
                ["time", "number", "string"].contains(&c["type"].as_str().unwrap()),
                "{c}"
            );
            c["text"].as_str().unwrap()
        })
        .collect();
    for row in f["rows"].as_array().unwrap() {
        assert_eq!(row.as_array().unwrap().len(), columns.len(), "{row}");
    }
    columns
}

#[tokio::test]
async fn health_catalogue_options_variables_and_tags() {
    let app = spawn_app().await;
    app.import(&test_data("inc-sample.csv")).await;
    for path in ["/grafana", "/grafana/"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
    }

    // /metrics: `{}` (the first call), `{metric, payload}` and an empty body.
    let (status, catalogue) = post(&app, "/grafana/metrics", &json!({})).await;
    assert_eq!(status, 200);
    let again = post(
        &app,
        "/grafana/metrics",
        &json!({"metric": "open_count", "payload": {"cluster": ["(Westlands|Kilimani)"]}}),
    )
    .await;
    assert_eq!(again, (200, catalogue.clone()));
    let empty = app
        .client
        .post(app.url("/grafana/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 200);
    let names: Vec<&str> = catalogue
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(m["label"].is_string(), "{m}");
            for p in m["payloads"].as_array().unwrap() {
                assert!(p["name"].is_string(), "{p}");
                let kind = p["type"].as_str().unwrap();
                assert!(["select", "multi-select"].contains(&kind), "{p}");
            }
            m["value"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, METRICS);
    let payloads = |metric: &str| -> Vec<String> {
        catalogue
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["value"] == metric)
            .unwrap()["payloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(payloads("open_count"), ["cluster", "status", "format"]);
    assert_eq!(payloads("sla_open"), ["cluster", "status", "format"]);
    assert_eq!(payloads("open_tickets"), ["cluster", "status"]);
    assert!(payloads("imports").is_empty());
    assert_eq!(payloads("backlog"), ["cluster", "status", "format"]);
    assert_eq!(payloads("backlog_flow"), ["cluster", "status", "format"]);

    // /metric-payload-options: the data's clusters and statuses, and the formats.
    let (_, clusters) = app.get_json("/api/v1/clusters").await;
    let cluster_names: Vec<&str> = clusters
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cluster_names.len(), 30);
    let options = |name: &str| {
        let name = name.to_owned();
        let app = &app;
        async move {
            let (status, body) = post(
                app,
                "/grafana/metric-payload-options",
                &json!({"metric": "open_count", "payload": {"cluster": ["Westlands"], "format": "timeseries"}, "name": name}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body.as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    assert!(o["label"].is_string(), "{o}");
                    o["value"].as_str().unwrap().to_owned()
                })
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(options("cluster").await, cluster_names);
    assert_eq!(
        options("status").await,
        [
            "CANCELLED",
            "CLOSED",
            "IN_PROGRESS",
            "OPEN",
            "PENDING",
            "RESOLVED"
        ]
    );
    assert_eq!(options("format").await, ["timeseries", "table"]);

    // /variable, as 0.6.x sends it (range, rangeRaw, `type`) and as raw JSON.
    let variable = |payload: Value| {
        let app = &app;
        async move {
            let (status, body) = post(
                app,
                "/grafana/variable",
                &json!({
                    "payload": payload,
                    "range": {"from": "2026-06-09T08:09:32.164Z", "to": "2026-06-16T08:09:32.164Z",
                              "raw": {"from": "now-7d", "to": "now"}},
                    "rangeRaw": {"from": "now-7d", "to": "now"},
                }),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body.as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    assert_eq!(v["__text"], v["__value"]);
                    v["__value"].as_str().unwrap().to_owned()
                })
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(variable(json!({"target": "clusters"})).await, cluster_names);
    assert_eq!(
        variable(json!({"target": "statuses", "type": "query"})).await,
        options("status").await
    );
    let regions = variable(json!({"target": "regions", "extra": {"from": "raw JSON"}})).await;
    assert_eq!(
        regions,
        [
            "central",
            "coast",
            "eastern",
            "nairobi",
            "rift valley",
            "western"
        ]
    );

    // Ad hoc filters: keys, then values for a key (newer Grafana adds filters, timeRange).
    let (status, keys) = post(&app, "/grafana/tag-keys", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        keys,
        json!([
            {"type": "string", "text": "cluster"},
            {"type": "string", "text": "status"},
            {"type": "string", "text": "region"},
            {"type": "string", "text": "assigned_team"},
        ])
    );
    let (status, values) = post(
        &app,
        "/grafana/tag-values",
        &json!({"key": "region", "filters": [{"key": "cluster", "operator": "=", "value": "Karen"}],
                "timeRange": {"from": FROM, "to": TO}}),
    )
    .await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, regions);
    let (_, teams) = post(
        &app,
        "/grafana/tag-values",
        &json!({"key": "assigned_team"}),
    )
    .await;
    assert!(teams
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["text"] == "FO Coast"));
    let (_, clusters) = post(&app, "/grafana/tag-values", &json!({"key": "cluster"})).await;
    assert_eq!(clusters.as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn every_ticket_metric_equals_the_dashboard_api() {
    let app = spawn_app().await;
    app.import(&test_data("inc-sample.csv")).await;
    let mut hidden = target("H", "open_count", json!({}));
    hidden["hide"] = json!(true);
    let frames = query(
        &app,
        &query_body(json!([
            target("A", "open_count", json!({"cluster": [], "status": []})),
            target("B", "closed_count", json!({"cluster": [".*"], "status": ["$__all"]})),
            target("C", "closure_rate", json!({})),
            target("D", "avg_mttr_minutes", json!({"format": "timeseries"})),
            target("E", "created_per_day", json!({})),
            target("F", "closed_per_day", json!({})),
            target("G", "sla_open", json!({})),
            hidden,
            target("I", "sla_closed", json!({"format": "table"})),
            target("J", "by_cluster", json!({})),
            target("K", "open_tickets", json!({})),
            target("L", "open_count", json!({"format": "table"})),
            target("M", "closed_per_day", json!({"format": "table"})),
            target("N", "sla_open", json!({"format": "table"})),
            {"refId": "P", "datasource": {"type": DS, "uid": "fleettickets"}},
            target("Q", "", json!({})),
        ])),
    )
    .await;
    // The dashboard API answers the same window from the entry this query cached.
    let hits = r#"fleettickets_dashboard_cache_total{outcome="hit"}"#;
    let hits_before = app.metric(hits).await;
    let d = dashboard(&app, "").await;
    assert_eq!(
        app.metric(hits).await,
        hits_before + 1.0,
        "one shared cache entry"
    );
    let m = &d["metrics"];
    assert_eq!(m["open_count"], 39);

    let to_ms = 1_781_643_600_000i64; // 2026-06-16T21:00:00Z
    for f in frames.iter().filter(|f| f.get("datapoints").is_some()) {
        assert_series(f);
    }
    assert!(
        frames.iter().all(|f| f["refId"] != "H"),
        "hidden targets are skipped"
    );
    assert!(
        frames
            .iter()
            .all(|f| !["P", "Q"].contains(&f["refId"].as_str().unwrap())),
        "targets without a metric give nothing"
    );
    // Single values: one point at the range's end.
    for (ref_id, metric) in [
        ("A", "open_count"),
        ("B", "closed_count"),
        ("C", "closure_rate"),
        ("D", "avg_mttr_minutes"),
    ] {
        let f = frames.iter().find(|f| f["refId"] == ref_id).unwrap();
        assert_eq!(f["target"], metric);
        assert_eq!(f["datapoints"], json!([[m[metric], to_ms]]), "{metric}");
        assert!(!m[metric].is_null(), "the sample has a value for {metric}");
    }
    // Daily series: one point per EAT day at 00:00 EAT.
    let daily = m["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 16);
    for (ref_id, field) in [("E", "created"), ("F", "closed")] {
        let f = frames.iter().find(|f| f["refId"] == ref_id).unwrap();
        let points = f["datapoints"].as_array().unwrap();
        assert_eq!(points.len(), daily.len());
        for (p, day) in points.iter().zip(daily) {
            assert_eq!(p[0], day[field]);
            let midnight = chrono::DateTime::parse_from_rfc3339(&format!(
                "{}T00:00:00+03:00",
                day["date"].as_str().unwrap()
            ))
            .unwrap();
            assert_eq!(p[1], midnight.timestamp_millis());
        }
    }
    assert_eq!(
        frames.iter().find(|f| f["refId"] == "E").unwrap()["datapoints"][0][1],
        1_780_261_200_000i64,
        "2026-06-01T00:00:00+03:00"
    );
    // SLA: one series per state, or a table.
    let sla_open: Vec<(String, Value)> = frames
        .iter()
        .filter(|f| f["refId"] == "G")
        .map(|f| {
            (
                f["target"].as_str().unwrap().to_owned(),
                f["datapoints"][0][0].clone(),
            )
        })
        .collect();
    assert_eq!(
        sla_open,
        ["within", "at_risk", "breached", "unknown"]
            .map(|s| (s.to_owned(), m["sla"]["open"][s].clone()))
    );
    let sla_closed = frames.iter().find(|f| f["refId"] == "I").unwrap();
    assert_eq!(assert_table(sla_closed), ["state", "count"]);
    assert_eq!(
        sla_closed["rows"],
        json!([
            ["met", m["sla"]["closed"]["met"]],
            ["breached", m["sla"]["closed"]["breached"]],
            ["unknown", m["sla"]["closed"]["unknown"]],
        ])
    );
    let sla_table = frames.iter().find(|f| f["refId"] == "N").unwrap();
    assert_eq!(sla_table["rows"].as_array().unwrap().len(), 4);
    // By cluster.
    let by_cluster = frames.iter().find(|f| f["refId"] == "J").unwrap();
    assert_eq!(
        assert_table(by_cluster),
        ["cluster", "open", "closed", "open_breached"]
    );
    let expected: Vec<Value> = m["by_cluster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["cluster"], r["open"], r["closed"], r["open_breached"]]))
        .collect();
    assert_eq!(by_cluster["rows"], json!(expected));
    // Open tickets: the dashboard's open features (same cache entry, same as_of).
    let open = frames.iter().find(|f| f["refId"] == "K").unwrap();
    assert_eq!(
        assert_table(open),
        [
            "ticket_id",
            "status",
            "cluster",
            "region",
            "location",
            "team",
            "owner",
            "hours_open",
            "sla_state",
            "latitude",
            "longitude"
        ]
    );
    let expected: Vec<Value> = d["open"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            json!([
                p["ticket_id"],
                p["normalized_status"],
                p["cluster"],
                p["region"],
                p["location_name"],
                p["assigned_team"],
                p["owner"],
                p["hours_open"],
                p["sla_state"],
                f["geometry"]["coordinates"][1],
                f["geometry"]["coordinates"][0]
            ])
        })
        .collect();
    assert_eq!(expected.len(), 39);
    assert_eq!(open["rows"], json!(expected));
    // Table formats of single values and daily series.
    let table = frames.iter().find(|f| f["refId"] == "L").unwrap();
    assert_eq!(assert_table(table), ["open_count"]);
    assert_eq!(table["rows"], json!([[39]]));
    let table = frames.iter().find(|f| f["refId"] == "M").unwrap();
    assert_eq!(assert_table(table), ["time", "closed_per_day"]);
    assert_eq!(table["rows"].as_array().unwrap().len(), 16);
    assert_eq!(table["rows"][0][1], daily[0]["closed"]);

    // Nothing to query: an empty answer, not an error (Grafana sends this for new panels).
    assert!(query(&app, &query_body(json!([]))).await.is_empty());
}

/// `open_count`, `closed_count` and `closure_rate` for one target.
async fn counts(app: &TestApp, payload: Value, filters: Value) -> (Value, Value, Value) {
    let mut body = query_body(json!([
        target("A", "open_count", payload.clone()),
        target("B", "closed_count", payload.clone()),
        target("C", "closure_rate", payload),
    ]));
    body["filters"] = filters;
    let frames = query(app, &body).await;
    (
        single(&frames, "A"),
        single(&frames, "B"),
        single(&frames, "C"),
    )
}

fn dashboard_counts(d: &Value) -> (Value, Value, Value) {
    let m = &d["metrics"];
    (
        m["open_count"].clone(),
        m["closed_count"].clone(),
        m["closure_rate"].clone(),
    )
}

#[tokio::test]
async fn regex_variables_and_ad_hoc_filters_select_the_right_tickets() {
    let app = spawn_app().await;
    app.import(&test_data("inc-sample.csv")).await;
    let all = dashboard(&app, "").await;

    // Template variables in regex form (builder mode), and plain values (code mode).
    let cases = [
        (
            json!({"cluster": ["(Westlands|Kilimani)"]}),
            "&cluster=Westlands&cluster=Kilimani",
        ),
        (
            json!({"cluster": ["Westlands", "Kilimani"]}),
            "&cluster=Westlands,Kilimani",
        ),
        (
            json!({"cluster": r"Quarry\ Road"}),
            "&cluster=Quarry%20Road",
        ),
        (
            json!({"cluster": [r"(Industrial\ Area|Quarry\ Road)"], "status": ["(OPEN|PENDING)"]}),
            "&cluster=Industrial%20Area,Quarry%20Road&status=OPEN,PENDING",
        ),
        (
            json!({"cluster": ["Quarry Road"], "status": "in_progress"}),
            "&cluster=Quarry%20Road&status=IN_PROGRESS",
        ),
        (json!({"cluster": ["(.*)"], "status": ["All"]}), ""),
        (json!({"cluster": [".*"], "status": ""}), ""),
    ];
    for (payload, params) in cases {
        let d = dashboard(&app, params).await;
        assert_eq!(
            counts(&app, payload.clone(), json!([])).await,
            dashboard_counts(&d),
            "{payload}"
        );
    }
    let westlands = dashboard(&app, "&cluster=Westlands").await;
    assert_ne!(dashboard_counts(&westlands), dashboard_counts(&all));

    // Ad hoc filters on cluster/status, in `filters` and in the older `adhocFilters`.
    let eq = json!([{"key": "cluster", "operator": "=", "value": "Westlands", "condition": ""}]);
    assert_eq!(
        counts(&app, json!({}), eq.clone()).await,
        dashboard_counts(&westlands)
    );
    let mut body = query_body(json!([target("A", "open_count", json!({}))]));
    body.as_object_mut().unwrap().remove("filters");
    body["adhocFilters"] = eq.clone();
    assert_eq!(
        single(&query(&app, &body).await, "A"),
        westlands["metrics"]["open_count"]
    );
    // Ad hoc AND payload: Westlands among (Westlands|Kilimani).
    assert_eq!(
        counts(&app, json!({"cluster": ["(Westlands|Kilimani)"]}), eq).await,
        dashboard_counts(&westlands)
    );
    // ... and an empty intersection.
    let (open, closed, rate) = counts(
        &app,
        json!({"cluster": ["Karen"]}),
        json!([{"key": "cluster", "operator": "=", "value": "Westlands"}]),
    )
    .await;
    assert_eq!((open, closed, rate), (json!(0), json!(0), Value::Null));

    // Filters the dashboard API has no parameter for: checked against its features.
    let features = |d: &Value, set: &str| d[set]["features"].as_array().unwrap().clone();
    let count_where = |set: &str, keep: &dyn Fn(&Value) -> bool| {
        json!(features(&all, set)
            .iter()
            .filter(|f| keep(&f["properties"]))
            .count())
    };
    let region_is = |r: &str| {
        let r = r.to_owned();
        move |p: &Value| p["region"] == r.as_str()
    };
    let (open, closed, _) = counts(
        &app,
        json!({}),
        json!([{"key": "region", "operator": "=", "value": "Coast"}]),
    )
    .await;
    assert_eq!(open, count_where("open", &region_is("coast")));
    assert_eq!(closed, count_where("closed", &region_is("coast")));
    assert!(open.as_u64().unwrap() > 0);
    let (open, closed, _) = counts(
        &app,
        json!({}),
        json!([{"key": "region", "operator": "!=", "value": "coast"}]),
    )
    .await;
    let not_coast = |p: &Value| p["region"] != "coast";
    assert_eq!(open, count_where("open", &not_coast));
    assert_eq!(closed, count_where("closed", &not_coast));
    let teams =
        |p: &Value| ["FO Coast", "NOC L2"].contains(&p["assigned_team"].as_str().unwrap_or(""));
    let (open, closed, _) = counts(
        &app,
        json!({}),
        json!([{"key": "assigned_team", "operator": "=~", "value": "FO Coast|NOC L2"}]),
    )
    .await;
    assert_eq!(open, count_where("open", &teams));
    assert_eq!(closed, count_where("closed", &teams));
    // `!=` on cluster, with a status list in the payload.
    let pending = dashboard(&app, "&status=PENDING").await;
    let (open, _, _) = counts(
        &app,
        json!({"status": ["PENDING"]}),
        json!([{"key": "cluster", "operator": "!=", "value": "westlands"}]),
    )
    .await;
    let expected = features(&pending, "open")
        .iter()
        .filter(|f| f["properties"]["cluster"] != "Westlands")
        .count();
    assert_eq!(open, json!(expected));
    // The open-tickets table honours the extra filters too.
    let mut body = query_body(json!([target("A", "open_tickets", json!({}))]));
    body["filters"] = json!([{"key": "region", "operator": "=", "value": "coast"},
                             {"key": "status", "operator": "!=", "value": "OPEN"}]);
    let frames = query(&app, &body).await;
    let rows = frames[0]["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r[3] == "coast" && r[1] != "OPEN"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn import_runs_are_annotations() {
    let app = spawn_app().await;
    let started = chrono::Utc::now() - chrono::Duration::minutes(1);
    app.import(&test_data("inc-sample.csv")).await;
    sqlx::query(
        "INSERT INTO tickets.import_meta (source_key, outcome, error, started_at, finished_at)
         VALUES ('automations/inc/2026-06-10T071502.csv', 'failed', 'a row has 3 fields, not 33',
                 '2026-06-10T07:15:00+03:00', '2026-06-10T07:15:03.250+03:00')",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let annotation = json!([{
        "refId": "Anno", "target": "imports", "payload": {}, "editorMode": "builder",
        "datasource": {"type": DS, "uid": "fleettickets"},
    }]);
    let frames = query(&app, &query_body(annotation.clone())).await;
    assert_eq!(frames.len(), 1);
    let f = &frames[0];
    assert_eq!(assert_table(f), ["time", "title", "text", "tags"]);
    assert_eq!(f["columns"][0]["type"], "time");
    assert_eq!(
        f["rows"],
        json!([[
            chrono::DateTime::parse_from_rfc3339("2026-06-10T07:15:03.250+03:00")
                .unwrap()
                .timestamp_millis(),
            "failed",
            "automations/inc/2026-06-10T071502.csv: 0 rows read, 0 kept; 0 new, 0 updated, 0 kept as newer; 0 warnings; error: a row has 3 fields, not 33",
            "import,failed"
        ]])
    );
    // The sample's import, just now.
    let now = chrono::Utc::now() + chrono::Duration::minutes(1);
    let ms = chrono::SecondsFormat::Millis;
    let frames = query(
        &app,
        &query_range(
            annotation,
            &started.to_rfc3339_opts(ms, true),
            &now.to_rfc3339_opts(ms, true),
        ),
    )
    .await;
    let rows = frames[0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], "imported");
    let text = rows[0][2].as_str().unwrap();
    assert!(
        text.contains("401 rows read, 387 kept; 386 new, 0 updated"),
        "{text}"
    );
    assert!(text.contains("truncated"), "{text}");
    assert_eq!(rows[0][3], "import,imported,truncated");
}

#[tokio::test]
async fn malformed_bodies_get_a_400_with_a_message() {
    let app = spawn_app().await;
    let good = |t: Value| query_body(json!([t]));
    let open = target("A", "open_count", json!({}));
    let with = |key: &str, value: Value| {
        let mut b = good(open.clone());
        b[key] = value;
        b
    };
    let range = |from: &str, to: &str| query_range(json!([open.clone()]), from, to);
    let filter = |key: &str, op: &str, value: &str| {
        with(
            "filters",
            json!([{"key": key, "operator": op, "value": value}]),
        )
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/grafana/query",
            with("targets", json!("open_count")),
            "invalid type",
        ),
        ("/grafana/query", with("range", json!(null)), "range"),
        (
            "/grafana/query",
            with("range", json!({"from": FROM})),
            "missing field",
        ),
        ("/grafana/query", range("now-6h", "now"), "range.from"),
        (
            "/grafana/query",
            range(FROM, "2026-06-31T00:00:00.000Z"),
            "range.to",
        ),
        ("/grafana/query", range(TO, FROM), "not after"),
        (
            "/grafana/query",
            range("2025-01-01T00:00:00.000Z", TO),
            "366 days",
        ),
        (
            "/grafana/query",
            good(target("A", "open_cnt", json!({}))),
            "unknown metric",
        ),
        (
            "/grafana/query",
            good(target("A", "open_count", json!({"format": "graph"}))),
            "format",
        ),
        (
            "/grafana/query",
            good(target("A", "by_cluster", json!({"format": "timeseries"}))),
            "table",
        ),
        (
            "/grafana/query",
            good(target("A", "open_count", json!({"cluster": 7}))),
            "payload.cluster",
        ),
        (
            "/grafana/query",
            good(target(
                "A",
                "open_count",
                json!({"status": ["(OPEN|DONE)"]}),
            )),
            "DONE",
        ),
        (
            "/grafana/query",
            good(target("A", "open_count", json!("{not json"))),
            "payload",
        ),
        (
            "/grafana/query",
            good(target("A", "by_cluster", json!({"cluster": ["$cluster"]}))),
            "did not replace",
        ),
        (
            "/grafana/query",
            filter("owner", "=", "x"),
            "filterable keys",
        ),
        ("/grafana/query", filter("cluster", "<", "x"), "operator"),
        (
            "/grafana/query",
            filter("cluster", "=~", "West.*"),
            "literal",
        ),
        ("/grafana/query", filter("status", "=", "DONE"), "DONE"),
        // Text PostgreSQL refuses, and instants outside the supported range.
        (
            "/grafana/query",
            filter("cluster", "=", "West\u{0}lands"),
            "cannot be used",
        ),
        (
            "/grafana/query",
            range("0000-06-01T00:00:00Z", "0000-06-02T00:00:00Z"),
            "supported range",
        ),
        (
            "/grafana/query",
            range("2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
            "supported range",
        ),
        (
            "/grafana/variable",
            json!({"payload": {"target": "owners"}}),
            "owners",
        ),
        ("/grafana/variable", json!({"payload": 5}), "variable"),
        ("/grafana/tag-values", json!({}), "key"),
        ("/grafana/tag-values", json!({"key": "owner"}), "owner"),
        ("/grafana/tag-values", json!({"key": 5}), "invalid type"),
        (
            "/grafana/metric-payload-options",
            json!({"name": "colour"}),
            "colour",
        ),
    ];
    for (path, body, says) in cases {
        let (status, error) = post(&app, path, &body).await;
        assert_eq!(status, 400, "{path} {body}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(says),
            "{path}: {message:?} should say {says:?}"
        );
        assert!(
            error["error"].is_string() && error["detail"].is_string(),
            "{error}"
        );
    }
    // Not JSON at all, JSON of the wrong kind, and no content type.
    for (path, raw) in [
        ("/grafana/query", "{\"targets\": ["),
        ("/grafana/query", "[1, 2]"),
        ("/grafana/metrics", "not json"),
        ("/grafana/tag-keys", "{"),
    ] {
        let r = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path} {raw}");
        let error: Value = r.json().await.unwrap();
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("not a valid request"),
            "{error}"
        );
    }
    let r = app
        .client
        .post(app.url("/grafana/tag-keys"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "no content type is fine");
}

#[tokio::test]
async fn a_token_guards_every_grafana_route() {
    let reader = "0123456789abcdef-grafana";
    let app = spawn_app_with(&["--api-tokens", &format!("grafana:reader:{reader}")]).await;
    let r = app.get("/grafana").await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], 401,
        "what Save & test prints: {body}"
    );
    assert!(body["message"].as_str().unwrap().contains("Bearer"));
    let r = app.get_as("/grafana", reader).await;
    assert_eq!(r.status(), 200);
    for path in [
        "/grafana/metrics",
        "/grafana/metric-payload-options",
        "/grafana/query",
        "/grafana/variable",
        "/grafana/tag-keys",
        "/grafana/tag-values",
    ] {
        let body = json!({"name": "cluster", "key": "cluster", "payload": {"target": "clusters"},
                          "targets": [], "range": {"from": FROM, "to": TO}});
        for token in [None, Some("wrong-token-wrong-token")] {
            let (status, error) = post_as(&app, path, &body, token).await;
            assert_eq!(status, 401, "{path} {token:?}");
            assert!(error["message"]
                .as_str()
                .unwrap()
                .starts_with("unauthorized"));
            assert_eq!(error["error"], "unauthorized");
        }
        let (status, answer) = post_as(&app, path, &body, Some(reader)).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert!(answer.is_array(), "{path}: {answer}");
    }
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// Interpolates `$cluster`/`$status` in a builder-mode payload as Grafana does with
/// "All" selected (the variables' custom all value `.*`, unescaped).
fn interpolate(payload: &Value) -> Value {
    let text = payload
        .to_string()
        .replace("$cluster", ".*")
        .replace("$status", ".*");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_provisioned_dashboard_names_existing_metrics_and_works() {
    let provisioning = repo_file("grafana/provisioning/datasources/fleettickets.yaml");
    for line in [
        "type: simpod-json-datasource",
        "uid: fleettickets",
        "url: http://fleettickets:8080/grafana",
        "httpHeaderName1: Authorization",
        "httpHeaderValue1: Bearer ${FLEETTICKETS_TOKEN}",
    ] {
        assert!(provisioning.contains(line), "the datasource has {line:?}");
    }
    let dashboard: Value =
        serde_json::from_str(&repo_file("grafana/dashboards/inc-operations.json"))
            .expect("the dashboard is valid JSON");
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());

    // The variables: query variables through /variable, multi-value with All.
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    for (name, query) in [("cluster", "clusters"), ("status", "statuses")] {
        let v = vars.iter().find(|v| v["name"] == name).unwrap();
        assert_eq!(v["type"], "query");
        assert_eq!(v["datasource"]["uid"], "fleettickets");
        assert_eq!(v["query"]["query"], query);
        assert_eq!(
            (v["multi"].as_bool(), v["includeAll"].as_bool()),
            (Some(true), Some(true))
        );
        assert_eq!(v["allValue"], ".*");
    }

    let app = spawn_app().await;
    app.import(&test_data("inc-sample.csv")).await;
    let (_, catalogue) = post(&app, "/grafana/metrics", &json!({})).await;
    let known: BTreeSet<&str> = catalogue
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    let mut used = BTreeSet::new();
    let mut targets: Vec<(String, Value)> = Vec::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap().to_owned();
        for t in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(t["datasource"]["uid"], "fleettickets", "{title}");
            targets.push((title.clone(), t.clone()));
        }
    }
    for a in dashboard["annotations"]["list"].as_array().unwrap() {
        if a["datasource"]["uid"] == "fleettickets" {
            targets.push((a["name"].as_str().unwrap().to_owned(), a["target"].clone()));
        }
    }
    for (title, t) in &targets {
        let metric = t["target"].as_str().unwrap();
        assert!(known.contains(metric), "{title}: {metric} is a metric");
        used.insert(metric);
        if metric != "imports" {
            assert_eq!(t["payload"]["cluster"], json!(["$cluster"]), "{title}");
            assert_eq!(t["payload"]["status"], json!(["$status"]), "{title}");
        }
        // The panel's query as Grafana sends it with "All" selected: it answers.
        let mut sent = t.clone();
        sent["payload"] = interpolate(&t["payload"]);
        let frames = query(&app, &query_body(json!([sent]))).await;
        assert!(!frames.is_empty(), "{title}");
        for f in &frames {
            if f.get("datapoints").is_some() {
                assert_series(f);
            } else {
                assert_table(f);
            }
        }
    }
    assert_eq!(used, known, "every metric is on the dashboard");
}
