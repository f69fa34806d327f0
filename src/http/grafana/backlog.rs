//! The `backlog` and `backlog_flow` metrics: the series of `GET /api/v1/inc/backlog`
//! for the panel's range, interval and cluster/status filters, read from that route's
//! own cache entry (`CacheKey::Backlog`), so a panel and the API show the same numbers
//! and a refresh of either costs one computation. A point is plotted at its `end`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::catalogue::{Format, Metric};
use super::filters::Selection;
use super::frame::Frame;
use super::refusal::Refusal;
use crate::history::backlog::Point;
use crate::history::params::{self, BacklogRequest};
use crate::history::Backlog;
use crate::http::backlog::cached;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::params::{refuse, Filters, ParamError};

/// At and above a day per point Grafana gets daily buckets, below it hourly ones.
const DAY_MS: f64 = 86_400_000.0;

/// A column of a backlog metric: its name and its count in a point.
type Column = (&'static str, fn(&Point) -> Option<i64>);

/// The columns of `backlog`: the open backlog and its SLA split at each `end`.
const OPEN: [Column; 5] = [
    ("open", |p| p.open),
    ("within", |p| p.within),
    ("at_risk", |p| p.at_risk),
    ("breached", |p| p.breached),
    ("unknown", |p| p.unknown),
];
/// The columns of `backlog_flow`: the tickets that joined and left it over the bucket.
const FLOW: [Column; 2] = [("entered", |p| p.entered), ("left", |p| p.left)];

/// The cluster and status lists of a selection: the backlog is computed by those only,
/// so any other filter (region, team, a negation, a second list) is refused.
pub fn filters(selection: &Selection) -> Result<Filters, Refusal> {
    match selection.extra.first() {
        None => Ok(selection.filters.clone()),
        Some(p) => Err(Refusal::BacklogFilter(p.field.key())),
    }
}

/// The route's request for a panel: its range (`range.from` and `range.to` as the
/// route's `from` and `to`), `intervalMs` as the interval (absent: the route's default),
/// refused exactly as the route refuses the same values.
pub fn request(
    range: (&str, &str),
    interval_ms: Option<&Value>,
    filters: Filters,
    now: DateTime<Utc>,
) -> Result<BacklogRequest, ParamError> {
    let interval = match interval_ms {
        None | Some(Value::Null) => None,
        Some(ms) => match ms.as_f64() {
            Some(ms) if ms >= DAY_MS => Some("day"),
            Some(ms) if ms > 0.0 => Some("hour"),
            _ => {
                return Err(refuse(
                    "intervalMs",
                    format!("{ms} is not a positive number of milliseconds"),
                ))
            }
        },
    };
    params::request(
        Some(("range.from", range.0)),
        Some(("range.to", range.1)),
        interval,
        filters,
        now,
    )
}

/// The payload of each distinct request of one `/query` call (`backlog` and
/// `backlog_flow` of a panel read one entry once), from (or into) the route's cache.
#[derive(Default)]
pub struct Series(Vec<(BacklogRequest, Arc<Backlog>)>);

impl Series {
    pub async fn get(
        &mut self,
        app: &AppState,
        request: BacklogRequest,
    ) -> Result<Arc<Backlog>, ApiError> {
        if let Some((_, payload)) = self.0.iter().find(|(r, _)| *r == request) {
            return Ok(payload.clone());
        }
        let (_, payload) = cached(app, request.clone()).await?;
        self.0.push((request, payload.clone()));
        Ok(payload)
    }
}

/// The frames of `backlog` or `backlog_flow`: a series per column (a null count, before
/// capture start, stays null: a gap), or one table with a `time` column.
pub fn frames(metric: Metric, format: Format, ref_id: &str, points: &[Point]) -> Vec<Frame> {
    let columns: &[Column] = if metric == Metric::BacklogFlow {
        &FLOW
    } else {
        &OPEN
    };
    let at = |p: &Point| p.end.0.timestamp_millis();
    match format {
        Format::TimeSeries => columns
            .iter()
            .map(|&(name, count)| Frame::Series {
                target: name.to_owned(),
                ref_id: ref_id.to_owned(),
                datapoints: points.iter().map(|p| (json!(count(p)), at(p))).collect(),
            })
            .collect(),
        Format::Table => {
            let header: Vec<(&str, &'static str)> = std::iter::once(("time", "time"))
                .chain(columns.iter().map(|&(name, _)| (name, "number")))
                .collect();
            let rows = points
                .iter()
                .map(|p| {
                    std::iter::once(json!(at(p)))
                        .chain(columns.iter().map(|(_, count)| json!(count(p))))
                        .collect()
                })
                .collect();
            vec![Frame::table(ref_id, &header, rows)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eat::EatTime;

    fn now() -> DateTime<Utc> {
        crate::eat::instant("2026-06-16T10:20:00+03:00")
    }

    const RANGE: (&str, &str) = ("2026-06-01T00:00:00.000Z", "2026-06-16T06:00:00.000Z");

    #[test]
    fn interval_ms_picks_hours_below_a_day_and_days_from_it() {
        use crate::history::backlog::Interval;
        let pick = |ms: Value| {
            request(RANGE, Some(&ms), Filters::default(), now())
                .map(|r| r.interval)
                .map_err(|e| e.param)
        };
        assert_eq!(pick(json!(3_600_000)), Ok(Interval::Hour));
        assert_eq!(pick(json!(86_399_999)), Ok(Interval::Hour));
        assert_eq!(pick(json!(86_400_000)), Ok(Interval::Day));
        assert_eq!(pick(json!(604_800_000.0)), Ok(Interval::Day));
        assert_eq!(pick(json!("1h")), Err("intervalMs".into()));
        assert_eq!(pick(json!(0)), Err("intervalMs".into()));
        // No intervalMs: the route's default (over 7 days: daily).
        let r = request(RANGE, None, Filters::default(), now()).unwrap();
        assert_eq!(r.interval, Interval::Day);
    }

    #[test]
    fn frames_plot_each_count_at_the_points_end_and_keep_nulls() {
        let at = |s: &str| EatTime(DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        let counts = |n: [i64; 7]| n.map(Some);
        let point = |t: &str, end: &str, n: [Option<i64>; 7]| Point {
            t: at(t),
            end: at(end),
            open: n[0],
            within: n[1],
            at_risk: n[2],
            breached: n[3],
            unknown: n[4],
            entered: n[5],
            left: n[6],
        };
        let points = [
            point(
                "2026-06-16T05:00:00+03:00",
                "2026-06-16T06:00:00+03:00",
                [None; 7],
            ),
            point(
                "2026-06-16T06:00:00+03:00",
                "2026-06-16T06:30:00+03:00",
                counts([4, 1, 1, 2, 0, 3, 1]),
            ),
        ];
        let six = 1_781_578_800_000i64;
        let half_past = six + 1_800_000;
        let series = frames(Metric::BacklogFlow, Format::TimeSeries, "B", &points);
        assert_eq!(
            serde_json::to_value(&series).unwrap(),
            json!([
                {"target": "entered", "refId": "B", "datapoints": [[null, six], [3, half_past]]},
                {"target": "left", "refId": "B", "datapoints": [[null, six], [1, half_past]]},
            ])
        );
        let table = frames(Metric::Backlog, Format::Table, "A", &points);
        let table = serde_json::to_value(&table).unwrap();
        assert_eq!(table[0]["columns"].as_array().unwrap().len(), 6);
        assert_eq!(table[0]["rows"][1], json!([half_past, 4, 1, 1, 2, 0]));
        assert_eq!(table[0]["rows"][0][1], Value::Null);
    }
}
