//! The metrics offered to Grafana, their payload fields, and how each becomes data
//! frames the plugin accepts (`toDataFrame`): time series `{target, datapoints:
//! [[value, epoch_ms]]}` or tables `{type: "table", columns: [{text, type}], rows}`.

use serde_json::{json, Value};

use super::frame::Frame;
use super::refusal::Refusal;
use crate::dashboard::Payload;
use crate::eat;
use crate::params::window::Window;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    OpenCount,
    ClosedCount,
    ClosureRate,
    AvgMttrMinutes,
    CreatedPerDay,
    ClosedPerDay,
    SlaOpen,
    SlaClosed,
    ByCluster,
    OpenTickets,
    Teams,
    Imports,
    Backlog,
    BacklogFlow,
}

/// How a metric's values are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One number for the range.
    Single,
    /// One number per EAT day.
    Daily,
    /// One number per SLA state.
    Split,
    /// Rows only.
    Table,
    /// One row per hour or day of the history (see `backlog`).
    Buckets,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TimeSeries,
    Table,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text.trim() {
            "timeseries" | "time_series" | "timeserie" => Some(Format::TimeSeries),
            "table" => Some(Format::Table),
            _ => None,
        }
    }
}

impl Metric {
    pub const ALL: [Metric; 14] = [
        Metric::OpenCount,
        Metric::ClosedCount,
        Metric::ClosureRate,
        Metric::AvgMttrMinutes,
        Metric::CreatedPerDay,
        Metric::ClosedPerDay,
        Metric::SlaOpen,
        Metric::SlaClosed,
        Metric::ByCluster,
        Metric::OpenTickets,
        Metric::Teams,
        Metric::Imports,
        Metric::Backlog,
        Metric::BacklogFlow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::OpenCount => "open_count",
            Metric::ClosedCount => "closed_count",
            Metric::ClosureRate => "closure_rate",
            Metric::AvgMttrMinutes => "avg_mttr_minutes",
            Metric::CreatedPerDay => "created_per_day",
            Metric::ClosedPerDay => "closed_per_day",
            Metric::SlaOpen => "sla_open",
            Metric::SlaClosed => "sla_closed",
            Metric::ByCluster => "by_cluster",
            Metric::OpenTickets => "open_tickets",
            Metric::Teams => "teams",
            Metric::Imports => "imports",
            Metric::Backlog => "backlog",
            Metric::BacklogFlow => "backlog_flow",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Metric::OpenCount => "Open tickets (count)",
            Metric::ClosedCount => "Tickets closed in the range",
            Metric::ClosureRate => "Closure rate",
            Metric::AvgMttrMinutes => "Average MTTR (minutes)",
            Metric::CreatedPerDay => "Created per day",
            Metric::ClosedPerDay => "Closed per day",
            Metric::SlaOpen => "SLA of open tickets",
            Metric::SlaClosed => "SLA of tickets closed in the range",
            Metric::ByCluster => "By cluster (table)",
            Metric::OpenTickets => "Open tickets (table)",
            Metric::Teams => "Teams: backlog and closures (table)",
            Metric::Imports => "Import runs (annotations)",
            Metric::Backlog => "Open backlog over time, by SLA state",
            Metric::BacklogFlow => "Backlog flow over time (entered, left)",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    fn shape(self) -> Shape {
        match self {
            Metric::OpenCount
            | Metric::ClosedCount
            | Metric::ClosureRate
            | Metric::AvgMttrMinutes => Shape::Single,
            Metric::CreatedPerDay | Metric::ClosedPerDay => Shape::Daily,
            Metric::SlaOpen | Metric::SlaClosed => Shape::Split,
            Metric::ByCluster | Metric::OpenTickets | Metric::Teams | Metric::Imports => {
                Shape::Table
            }
            Metric::Backlog | Metric::BacklogFlow => Shape::Buckets,
        }
    }

    /// Computed over the tickets, so the cluster/status/... filters apply (import runs
    /// are store-wide events, not tickets).
    pub fn filtered(self) -> bool {
        self != Metric::Imports
    }

    /// The format a target gets, or why the one asked for is not available.
    pub fn format(self, asked: Option<Format>) -> Result<Format, Refusal> {
        match (self.shape(), asked) {
            (Shape::Table, Some(Format::TimeSeries)) => Err(Refusal::TableOnly(self.name())),
            (Shape::Table, _) => Ok(Format::Table),
            (_, asked) => Ok(asked.unwrap_or(Format::TimeSeries)),
        }
    }

    /// The `/metrics` entry: value, label and the payload fields the query builder shows.
    /// The cluster and status selects have no `options`, so the plugin asks
    /// `/metric-payload-options` for them.
    pub fn describe(self) -> Value {
        let mut payloads = Vec::new();
        if self.filtered() {
            payloads.push(json!({
                "name": "cluster", "label": "Cluster", "type": "multi-select",
                "placeholder": "all clusters", "width": 40,
            }));
            payloads.push(json!({
                "name": "status", "label": "Status", "type": "multi-select",
                "placeholder": "all statuses", "width": 30,
            }));
        }
        if self == Metric::Teams {
            payloads.push(json!({
                "name": "by", "label": "Group by", "type": "select", "width": 20,
                "placeholder": "team",
                "options": [
                    {"label": "Team", "value": "team"},
                    {"label": "Owner", "value": "owner"},
                ],
            }));
        }
        if self.shape() != Shape::Table {
            payloads.push(json!({
                "name": "format", "label": "Format", "type": "select", "width": 20,
                "placeholder": "timeseries",
                "options": [
                    {"label": "Time series", "value": "timeseries"},
                    {"label": "Table", "value": "table"},
                ],
            }));
        }
        json!({"value": self.name(), "label": self.label(), "payloads": payloads})
    }

    /// The frames of a ticket metric computed from the payload alone (every metric but
    /// `teams`, see `teams_table`, `imports` and the history's, see `backlog::frames`).
    pub fn frames(self, format: Format, ref_id: &str, s: &Payload, window: &Window) -> Vec<Frame> {
        let m = &s.metrics;
        let at = window.to.timestamp_millis();
        let series = |target: &str, datapoints: Vec<(Value, i64)>| Frame::Series {
            target: target.to_owned(),
            ref_id: ref_id.to_owned(),
            datapoints,
        };
        match self.shape() {
            Shape::Single => {
                let value = match self {
                    Metric::OpenCount => json!(m.open_count),
                    Metric::ClosedCount => json!(m.closed_count),
                    Metric::ClosureRate => json!(m.closure_rate),
                    _ => json!(m.avg_mttr_minutes),
                };
                match format {
                    Format::TimeSeries => vec![series(self.name(), vec![(value, at)])],
                    Format::Table => vec![Frame::table(
                        ref_id,
                        &[(self.name(), "number")],
                        vec![vec![value]],
                    )],
                }
            }
            Shape::Daily => {
                let points: Vec<(Value, i64)> = m
                    .daily
                    .iter()
                    .map(|d| {
                        let n = if self == Metric::CreatedPerDay {
                            d.created
                        } else {
                            d.closed
                        };
                        (json!(n), eat::midnight(d.date).timestamp_millis())
                    })
                    .collect();
                match format {
                    Format::TimeSeries => vec![series(self.name(), points)],
                    Format::Table => vec![Frame::table(
                        ref_id,
                        &[("time", "time"), (self.name(), "number")],
                        points.into_iter().map(|(v, t)| vec![json!(t), v]).collect(),
                    )],
                }
            }
            Shape::Split => {
                let states: Vec<(&str, u64)> = if self == Metric::SlaOpen {
                    let o = &m.sla.open;
                    vec![
                        ("within", o.within),
                        ("at_risk", o.at_risk),
                        ("breached", o.breached),
                        ("unknown", o.unknown),
                    ]
                } else {
                    let c = &m.sla.closed;
                    vec![
                        ("met", c.met),
                        ("breached", c.breached),
                        ("unknown", c.unknown),
                    ]
                };
                match format {
                    Format::TimeSeries => states
                        .into_iter()
                        .map(|(state, n)| series(state, vec![(json!(n), at)]))
                        .collect(),
                    Format::Table => vec![Frame::table(
                        ref_id,
                        &[("state", "string"), ("count", "number")],
                        states
                            .into_iter()
                            .map(|(state, n)| vec![json!(state), json!(n)])
                            .collect(),
                    )],
                }
            }
            Shape::Table if self == Metric::ByCluster => vec![Frame::table(
                ref_id,
                &[
                    ("cluster", "string"),
                    ("open", "number"),
                    ("closed", "number"),
                    ("open_breached", "number"),
                ],
                m.by_cluster
                    .iter()
                    .map(|r| {
                        vec![
                            json!(r.cluster),
                            json!(r.open),
                            json!(r.closed),
                            json!(r.open_breached),
                        ]
                    })
                    .collect(),
            )],
            Shape::Table if self != Metric::OpenTickets => Vec::new(),
            Shape::Buckets => Vec::new(),
            Shape::Table => vec![Frame::table(
                ref_id,
                &[
                    ("ticket_id", "string"),
                    ("status", "string"),
                    ("cluster", "string"),
                    ("region", "string"),
                    ("location", "string"),
                    ("team", "string"),
                    ("owner", "string"),
                    ("hours_open", "number"),
                    ("sla_state", "string"),
                    // Last, for the Geomap panel (null without a point).
                    ("latitude", "number"),
                    ("longitude", "number"),
                ],
                s.open()
                    .map(|o| {
                        let t = o.ticket;
                        vec![
                            json!(t.ticket_id),
                            json!(t.normalized_status),
                            json!(t.cluster),
                            json!(t.region),
                            json!(t.location_name),
                            json!(t.assigned_team),
                            json!(t.owner),
                            json!(o.hours_open),
                            json!(o.state),
                            json!(t.latitude),
                            json!(t.longitude),
                        ]
                    })
                    .collect(),
            )],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_unique_name_and_a_catalogue_entry() {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
            let d = m.describe();
            assert_eq!(d["value"], m.name());
            for p in d["payloads"].as_array().unwrap() {
                assert!(p["name"].is_string(), "the query builder needs a name: {p}");
            }
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
        assert!(Metric::ByCluster.format(Some(Format::TimeSeries)).is_err());
        assert_eq!(Metric::SlaOpen.format(None), Ok(Format::TimeSeries));
        assert_eq!(Metric::Imports.format(None), Ok(Format::Table));
        assert_eq!(Metric::Backlog.format(None), Ok(Format::TimeSeries));
        assert_eq!(
            Metric::BacklogFlow.format(Some(Format::Table)),
            Ok(Format::Table)
        );
    }

    #[test]
    fn frames_serialise_as_the_plugin_expects() {
        let series = Frame::Series {
            target: "open_count".into(),
            ref_id: "A".into(),
            datapoints: vec![(json!(39), 1_781_643_600_000)],
        };
        assert_eq!(
            serde_json::to_value(&series).unwrap(),
            json!({"target": "open_count", "refId": "A", "datapoints": [[39, 1_781_643_600_000i64]]})
        );
        let table = Frame::table("B", &[("state", "string")], vec![vec![json!("met")]]);
        assert_eq!(
            serde_json::to_value(&table).unwrap(),
            json!({"type": "table", "refId": "B", "columns": [{"text": "state", "type": "string"}], "rows": [["met"]]})
        );
    }
}
