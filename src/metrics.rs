//! Prometheus metrics, one registry per application (so tests in one process do not
//! share counts). Labels are low-cardinality: matched routes, outcomes, fixed names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub task: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<RouteLabels, Counter>,
    pub http_seconds: HistogramFamily<RouteLabels>,
    pub cache: Family<OutcomeLabels, Counter>,
    /// Recorded dashboard misses by where their versions came from: memory, database.
    pub recorded_reads: Family<OutcomeLabels, Counter>,
    /// One per snapshot: imported, unchanged, failed; and per run: bucket_error, db_error.
    pub imports: Family<OutcomeLabels, Counter>,
    pub import_rows: Counter,
    pub import_seconds: Histogram,
    pub data_changed_events: Counter,
    pub geocoder_calls: Family<OutcomeLabels, Counter>,
    /// WAL bytes the read database still has to replay before the next reload (0 when
    /// caught up; always 0 without a standby).
    pub replica_lag_bytes: Gauge,
    /// From hearing of a change to serving it (the standby's replay included).
    pub replica_wait_seconds: Histogram,
    /// Background tasks restarted after an error or a panic (see `supervise`).
    pub task_restarts: Family<TaskLabels, Counter>,
    /// 1 while a background task runs, 0 while it waits to be restarted or has ended.
    pub task_up: Family<TaskLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("fleettickets");
        let http_requests = Family::<RouteLabels, Counter>::default();
        let http_seconds: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        let cache = Family::<OutcomeLabels, Counter>::default();
        let recorded_reads = Family::<OutcomeLabels, Counter>::default();
        let imports = Family::<OutcomeLabels, Counter>::default();
        let import_rows = Counter::default();
        let import_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        let data_changed_events = Counter::default();
        let geocoder_calls = Family::<OutcomeLabels, Counter>::default();
        let replica_lag_bytes = Gauge::default();
        let replica_wait_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let task_restarts = Family::<TaskLabels, Counter>::default();
        let task_up = Family::<TaskLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by matched route",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP latency by matched route",
            http_seconds.clone(),
        );
        registry.register(
            "dashboard_cache",
            "Dashboard cache lookups by outcome (hit, miss)",
            cache.clone(),
        );
        registry.register(
            "dashboard_recorded_reads",
            "Recorded dashboard misses by where their versions were read (memory, database)",
            recorded_reads.clone(),
        );
        registry.register(
            "imports",
            "Snapshot imports and failed runs by outcome",
            imports.clone(),
        );
        registry.register(
            "import_rows",
            "Ticket rows written (new + updated) by imports",
            import_rows.clone(),
        );
        registry.register(
            "import_duration_seconds",
            "Duration of one snapshot import",
            import_seconds.clone(),
        );
        registry.register(
            "data_changed_events",
            "Data-changed events received (NOTIFY)",
            data_changed_events.clone(),
        );
        registry.register(
            "geocoder_calls",
            "Geocoder requests by outcome",
            geocoder_calls.clone(),
        );
        registry.register(
            "replica_lag_bytes",
            "WAL bytes the read database has still to replay before the next reload",
            replica_lag_bytes.clone(),
        );
        registry.register(
            "replica_wait_seconds",
            "Time from a data-changed event to serving the new data",
            replica_wait_seconds.clone(),
        );
        registry.register(
            "task_restarts",
            "Background tasks restarted after an error or a panic",
            task_restarts.clone(),
        );
        registry.register(
            "task_up",
            "1 while a background task runs, 0 while it waits to restart or has ended",
            task_up.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_seconds,
            cache,
            recorded_reads,
            imports,
            import_rows,
            import_seconds,
            data_changed_events,
            geocoder_calls,
            replica_lag_bytes,
            replica_wait_seconds,
            task_restarts,
            task_up,
        }
    }
}

impl Metrics {
    pub fn outcome(family: &Family<OutcomeLabels, Counter>, outcome: &'static str) {
        family.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
