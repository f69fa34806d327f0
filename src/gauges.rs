//! The business gauges of `/metrics`, computed at scrape time from the in-memory open
//! set and the import state (what alert rules watch: `prometheus/alerts.yml`). Their
//! names are a contract: shipped rules and users' dashboards rely on them.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::dashboard::sla::OpenSla;
use crate::dashboard::{open_sla, Rules, Ticket};

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterSla {
    cluster: String,
    sla_state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabel {
    cluster: String,
}

/// What the import records say, for the gauges.
#[derive(Debug, Clone, Default)]
pub struct Imports {
    pub last_checked_at: Option<DateTime<Utc>>,
    pub content_max_updated_at: Option<DateTime<Utc>>,
    /// The last run's outcome (`import_meta`): true unless it failed; `None` before any.
    pub last_ok: Option<bool>,
}

/// Per cluster (unknown as `""`): open tickets by SLA state, and the oldest one's age.
#[derive(Debug, Default, PartialEq)]
pub struct ClusterFigures {
    pub by_state: [u64; 4],
    pub oldest_seconds: Option<f64>,
}

/// Pure: the open tickets' figures by cluster at `now`, as the dashboard judges them.
pub fn by_cluster<'a>(
    open: &'a [Ticket],
    now: DateTime<Utc>,
    rules: &Rules,
) -> BTreeMap<&'a str, ClusterFigures> {
    let mut clusters: BTreeMap<&str, ClusterFigures> = BTreeMap::new();
    for t in open.iter().filter(|t| t.is_open()) {
        let figures = clusters
            .entry(t.cluster.as_deref().unwrap_or_default())
            .or_default();
        let (_, state) = open_sla(t, now, rules);
        let i = OpenSla::ALL.iter().position(|s| *s == state).unwrap_or(3);
        figures.by_state[i] += 1;
        if let Some(start) = t.created_at_service.or(t.first_seen_at) {
            let age = (now - start).num_milliseconds().max(0) as f64 / 1000.0;
            figures.oldest_seconds = Some(figures.oldest_seconds.map_or(age, |a| a.max(age)));
        }
    }
    clusters
}

/// The gauges in the text exposition format (ending with `# EOF`).
pub fn render(
    open: &[Ticket],
    now: DateTime<Utc>,
    rules: &Rules,
    imports: Option<&Imports>,
    streams: usize,
) -> String {
    let mut registry = Registry::with_prefix("fleettickets");
    let tickets = Family::<ClusterSla, Gauge>::default();
    let oldest = Family::<ClusterLabel, FloatGauge>::default();
    for (cluster, figures) in by_cluster(open, now, rules) {
        for (state, n) in OpenSla::ALL.iter().zip(figures.by_state) {
            let labels = ClusterSla {
                cluster: cluster.to_owned(),
                sla_state: state.name(),
            };
            tickets.get_or_create(&labels).set(n as i64);
        }
        if let Some(age) = figures.oldest_seconds {
            let cluster = cluster.to_owned();
            oldest.get_or_create(&ClusterLabel { cluster }).set(age);
        }
    }
    registry.register(
        "open_tickets",
        "Open (actionable) tickets by cluster (\"\" unknown) and SLA state, now",
        tickets,
    );
    registry.register(
        "open_oldest_age_seconds",
        "Age of the oldest open ticket of the cluster",
        oldest,
    );
    // Seconds from `t` to now (+Inf when never), as a gauge named `name`.
    let mut since = |name: &str, help: &str, t: Option<DateTime<Utc>>| {
        let gauge = FloatGauge::default();
        gauge.set(t.map_or(f64::INFINITY, |t| {
            (now - t).num_milliseconds().max(0) as f64 / 1000.0
        }));
        registry.register(name, help, gauge);
    };
    if let Some(imports) = imports {
        since(
            "snapshot_age_seconds",
            "Since a snapshot was last checked (imported or unchanged); +Inf when never",
            imports.last_checked_at,
        );
        if imports.content_max_updated_at.is_some() {
            since(
                "content_lag_seconds",
                "Since the newest ticket update in the data",
                imports.content_max_updated_at,
            );
        }
        if let Some(ok) = imports.last_ok {
            let success = Gauge::<i64>::default();
            success.set(i64::from(ok));
            registry.register(
                "last_import_success",
                "1 when the last import run succeeded (imported or unchanged), 0 when it failed",
                success,
            );
        }
    }
    let clients = Gauge::<i64>::default();
    clients.set(i64::try_from(streams).unwrap_or(i64::MAX));
    registry.register(
        "event_streams",
        "Clients connected to GET /api/v1/events",
        clients,
    );
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn ticket(cluster: Option<&str>, hours_ago: Option<i64>, now: DateTime<Utc>) -> Ticket {
        Ticket {
            ticket_id: format!("T{cluster:?}{hours_ago:?}").into(),
            cluster: cluster.map(Into::into),
            created_at_service: hours_ago.map(|h| now - Duration::hours(h)),
            is_actionable: Some(true),
            ..Ticket::default()
        }
    }

    #[test]
    fn counts_by_cluster_and_state_with_unknown_as_empty() {
        let now = Utc::now();
        let rules = Rules {
            sla_target_hours: 24.0,
            stale_after: Duration::hours(3),
        };
        let open = [
            ticket(Some("Nairobi"), Some(1), now),
            ticket(Some("Nairobi"), Some(20), now),
            ticket(Some("Nairobi"), Some(30), now),
            ticket(None, None, now),
        ];
        let figures = by_cluster(&open, now, &rules);
        assert_eq!(figures["Nairobi"].by_state, [1, 1, 1, 0]);
        assert_eq!(figures["Nairobi"].oldest_seconds, Some(30.0 * 3600.0));
        assert_eq!(figures[""].by_state, [0, 0, 0, 1]);
        assert_eq!(figures[""].oldest_seconds, None);
        let imports = Imports {
            last_checked_at: Some(now - Duration::minutes(10)),
            content_max_updated_at: None,
            last_ok: Some(false),
        };
        let text = render(&open, now, &rules, Some(&imports), 3);
        for line in [
            "fleettickets_open_tickets{cluster=\"Nairobi\",sla_state=\"breached\"} 1",
            "fleettickets_open_tickets{cluster=\"\",sla_state=\"unknown\"} 1",
            "fleettickets_open_tickets{cluster=\"\",sla_state=\"within\"} 0",
            "fleettickets_open_oldest_age_seconds{cluster=\"Nairobi\"} 108000.0",
            "fleettickets_snapshot_age_seconds 600.0",
            "fleettickets_last_import_success 0",
            "fleettickets_event_streams 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("content_lag"), "unknown: left out");
        let never = render(&[], now, &rules, Some(&Imports::default()), 0);
        assert!(
            never.contains("fleettickets_snapshot_age_seconds inf"),
            "{never}"
        );
    }
}
