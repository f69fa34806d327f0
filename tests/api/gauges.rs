//! The business gauges of `/metrics` against the dashboard served at the same time.

use std::collections::BTreeMap;

use crate::app::spawn_app;
use crate::helpers::test_data;

/// `name{labels} value` lines of one metric, as (labels, value).
fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter(|rest| rest.starts_with('{') || rest.starts_with(' '))
        .map(|rest| {
            let (labels, value) = rest.rsplit_once(' ').expect("a value");
            (labels.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

#[tokio::test]
async fn open_tickets_by_cluster_and_sla_add_up_to_the_dashboards_open_count() {
    let app = spawn_app().await;
    app.import(&test_data("inc-sample.csv")).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    let (_, dashboard) = app.get_json("/api/v1/inc/dashboard").await;
    let open = samples(&text, "fleettickets_open_tickets");
    let total: f64 = open.iter().map(|(_, v)| v).sum();
    let open_count = dashboard["metrics"]["open_count"].as_f64().unwrap();
    assert!(open_count > 0.0);
    assert_eq!(total, open_count, "{text}");
    // Per cluster too, with an unknown cluster as "".
    let mut by_cluster: BTreeMap<String, f64> = BTreeMap::new();
    for (labels, v) in &open {
        let cluster = labels
            .split("cluster=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        *by_cluster.entry(cluster).or_default() += v;
    }
    let expected: BTreeMap<String, f64> = dashboard["metrics"]["by_cluster"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["open"].as_u64() > Some(0))
        .map(|row| {
            let name = row["cluster"].as_str().unwrap_or_default().to_owned();
            (name, row["open"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(by_cluster, expected);
    let breached: f64 = open
        .iter()
        .filter(|(l, _)| l.contains("sla_state=\"breached\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        breached,
        dashboard["metrics"]["sla"]["open"]["breached"]
            .as_f64()
            .unwrap()
    );
    let oldest = samples(&text, "fleettickets_open_oldest_age_seconds");
    assert!(!oldest.is_empty() && oldest.len() <= expected.len());
    assert!(oldest.iter().all(|(_, v)| *v > 0.0), "{oldest:?}");
    assert_eq!(samples(&text, "fleettickets_last_import_success")[0].1, 1.0);
    assert_eq!(samples(&text, "fleettickets_event_streams")[0].1, 0.0);
    let age = samples(&text, "fleettickets_snapshot_age_seconds")[0].1;
    assert!((0.0..3600.0).contains(&age), "checked just now: {age}");
    assert!(samples(&text, "fleettickets_content_lag_seconds")[0].1 > 0.0);
    assert_eq!(text.matches("# EOF").count(), 1, "one exposition");
    assert!(text.trim_end().ends_with("# EOF"));
}
