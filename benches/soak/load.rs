//! The soak's request mix: what each kind asks, and which statuses it may answer.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    DashboardCached,
    DashboardUncached,
    Ticket,
    Backlog,
    Grafana,
    Nearest,
    Bad,
}

pub const KINDS: [Kind; 7] = [
    Kind::DashboardCached,
    Kind::DashboardUncached,
    Kind::Ticket,
    Kind::Backlog,
    Kind::Grafana,
    Kind::Nearest,
    Kind::Bad,
];

pub struct Request {
    pub kind: Kind,
    pub path: String,
    /// A POST's JSON body; GET when `None`.
    pub body: Option<Value>,
    pub expect: &'static [u16],
}

/// What the requests draw on: the store's ticket ids and cluster names, and the first
/// snapshot's time.
pub struct Mix {
    pub ids: Vec<String>,
    pub clusters: Vec<String>,
    pub as_of: DateTime<Utc>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn grafana_body(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let target = |ref_id: &str, metric: &str| {
        json!({"refId": ref_id, "target": metric, "payload": {}, "editorMode": "builder",
               "datasource": {"type": "simpod-json-datasource", "uid": "fleettickets"}})
    };
    json!({
        "app": "dashboard", "timezone": "browser", "panelId": 2,
        "range": {"from": stamp(from), "to": stamp(to), "raw": {"from": "now-15d", "to": "now"}},
        "interval": "1h", "intervalMs": 3_600_000, "maxDataPoints": 1000,
        "targets": [target("A", "open_count"), target("B", "by_cluster"),
                    target("C", "sla_open"), target("D", "backlog")],
        "filters": [],
    })
}

impl Mix {
    /// The `n`th request of the run (kinds in turn, their parameters varied by `n`).
    pub fn request(&self, n: u64) -> Request {
        let kind = KINDS[(n % KINDS.len() as u64) as usize];
        let round = n / KINDS.len() as u64;
        let get = |path: String, expect: &'static [u16]| Request {
            kind,
            path,
            body: None,
            expect,
        };
        let pick = |list: &[String]| list[(round % list.len() as u64) as usize].clone();
        match kind {
            Kind::DashboardCached => get("/api/v1/inc/dashboard?window=week".into(), &[200]),
            Kind::DashboardUncached => {
                // A new `as_of` each time: a key no request has cached yet.
                let as_of = stamp(self.as_of - Duration::seconds(round as i64));
                let window = ["today", "week", "month"][(round % 3) as usize];
                let mut path = format!("/api/v1/inc/dashboard?window={window}&as_of={as_of}");
                if round % 2 == 1 {
                    path.push_str(&format!(
                        "&cluster={}",
                        pick(&self.clusters).replace(' ', "%20")
                    ));
                }
                get(path, &[200])
            }
            Kind::Ticket => get(format!("/api/v1/inc/tickets/{}", pick(&self.ids)), &[200]),
            Kind::Backlog => match round % 2 {
                0 => get("/api/v1/inc/backlog".into(), &[200]),
                _ => {
                    let to = self.as_of + Duration::hours((round % 12) as i64 + 1);
                    let from = stamp(self.as_of - Duration::hours(2));
                    get(
                        format!("/api/v1/inc/backlog?from={from}&to={}", stamp(to)),
                        &[200],
                    )
                }
            },
            Kind::Grafana => {
                let to = self.as_of + Duration::minutes((round % 720) as i64);
                Request {
                    kind,
                    path: "/grafana/query".into(),
                    body: Some(grafana_body(to - Duration::days(15), to)),
                    expect: &[200],
                }
            }
            Kind::Nearest => {
                let lat = -1.29 + (round % 50) as f64 * 0.01;
                get(
                    format!("/api/v1/inc/nearest?lat={lat:.2}&lon=36.82&limit=20"),
                    &[200],
                )
            }
            Kind::Bad => match round % 4 {
                0 => get("/api/v1/inc/dashboard?window=year".into(), &[400]),
                1 => get("/api/v1/inc/tickets/INC404".into(), &[404]),
                2 => get("/api/v1/inc/nope".into(), &[404]),
                _ => get(
                    format!("/api/v1/inc/dashboard?cluster={}", "x".repeat(9000)),
                    &[414],
                ),
            },
        }
    }
}
