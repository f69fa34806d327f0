//! The backlog over time of `history.md`, computed from the versions that overlap a
//! period: a sweep over the instants where a version starts, ends or crosses an SLA
//! threshold. Pure: no database, no clock.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dashboard::sla;
use crate::eat::{self, EatTime};
use crate::params::Filters;

/// The bucket size, in EAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "hour" => Some(Interval::Hour),
            "day" => Some(Interval::Day),
            _ => None,
        }
    }

    /// EAT has a fixed offset: every hour and every day has the same length.
    pub fn length(self) -> Duration {
        match self {
            Interval::Hour => Duration::hours(1),
            Interval::Day => Duration::days(1),
        }
    }

    /// The start of the EAT hour or day holding `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            // The offset is a whole number of hours, so EAT hours are UTC hours.
            Interval::Hour => {
                DateTime::from_timestamp(t.timestamp().div_euclid(3600) * 3600, 0).unwrap_or(t)
            }
            Interval::Day => eat::midnight(eat::local_date(t)),
        }
    }
}

/// More buckets than this is refused: a leap year of hours. The spec's 2,000 is raised so
/// that 90 days hourly (2,160 points, issue 10) and a Grafana year at 1 h fit.
pub const MAX_BUCKETS: i64 = 8784;

/// One bucket: from `t` to `end` (the bucket's end, or the period's end when earlier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub t: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The buckets of `[from, to)`: the first starts at `from` floored to the interval, the
/// next ones follow while their start is before `to`. `Err(n)` when there would be
/// `n > MAX_BUCKETS`.
pub fn buckets(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
) -> Result<Vec<Bucket>, i64> {
    let first = interval.floor(from);
    let len = interval.length();
    let span = (to - first).num_seconds().max(0);
    let n = (span + len.num_seconds() - 1) / len.num_seconds();
    if n > MAX_BUCKETS {
        return Err(n);
    }
    Ok((0..n)
        .map(|i| {
            let t = first + len * i as i32;
            Bucket {
                t,
                end: (t + len).min(to),
            }
        })
        .collect())
}

/// One version of a ticket as the backlog reads it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Version {
    pub ticket_id: String,
    pub valid_from: DateTime<Utc>,
    /// `None` while current.
    pub valid_to: Option<DateTime<Utc>>,
    pub is_actionable: bool,
    pub cluster: Option<String>,
    pub normalized_status: Option<String>,
    /// The SLA start: `created_at_service`, else `first_seen_at`.
    pub start: Option<DateTime<Utc>>,
}

/// One point of the series: the backlog at `end` and the flow over `(t, end]`; every
/// count is null when `end` is before capture start.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Point {
    #[schema(value_type = String, format = DateTime)]
    pub t: EatTime,
    #[schema(value_type = String, format = DateTime)]
    pub end: EatTime,
    pub open: Option<i64>,
    pub within: Option<i64>,
    pub at_risk: Option<i64>,
    pub breached: Option<i64>,
    pub unknown: Option<i64>,
    pub entered: Option<i64>,
    pub left: Option<i64>,
}

/// Indexes of the SLA levels in the sweep.
const WITHIN: usize = 0;
const AT_RISK: usize = 1;
const BREACHED: usize = 2;
const UNKNOWN: usize = 3;

/// The series over `buckets` (in order) from the versions that overlap them (any order;
/// versions of other tickets, filtered out or outside the period, are ignored).
pub fn compute(
    versions: &[Version],
    buckets: &[Bucket],
    capture_start: Option<DateTime<Utc>>,
    filters: &Filters,
    sla_target_hours: f64,
) -> Vec<Point> {
    let (at_risk_after, breached_after) = sla::thresholds(sla_target_hours);
    let mut counting: Vec<&Version> = versions
        .iter()
        .filter(|v| {
            v.is_actionable && filters.keeps(v.cluster.as_deref(), v.normalized_status.as_deref())
        })
        .collect();
    counting.sort_by(|a, b| {
        (a.ticket_id.as_bytes(), a.valid_from).cmp(&(b.ticket_id.as_bytes(), b.valid_from))
    });
    // Level changes (instant, level, ±1) and the instants tickets join or leave.
    let mut steps: Vec<(DateTime<Utc>, usize, i64)> = Vec::with_capacity(counting.len() * 3);
    let (mut entered, mut left) = (Vec::new(), Vec::new());
    let mut phase = |level: usize, from: DateTime<Utc>, to: Option<DateTime<Utc>>| {
        if to.is_none_or(|to| from < to) {
            steps.push((from, level, 1));
            if let Some(to) = to {
                steps.push((to, level, -1));
            }
        }
    };
    let same_ticket = |a: &Version, b: &Version| a.ticket_id == b.ticket_id;
    for (i, v) in counting.iter().enumerate() {
        let continues = i > 0
            && same_ticket(counting[i - 1], v)
            && counting[i - 1].valid_to == Some(v.valid_from);
        let continued = counting
            .get(i + 1)
            .is_some_and(|n| same_ticket(n, v) && Some(n.valid_from) == v.valid_to);
        if !continues {
            entered.push(v.valid_from);
        }
        if let (false, Some(end)) = (continued, v.valid_to) {
            left.push(end);
        }
        let (from, to) = (v.valid_from, v.valid_to);
        match v.start {
            None => phase(UNKNOWN, from, to),
            Some(start) => {
                let (risk, breach) = (start + at_risk_after, start + breached_after);
                let until = |t: DateTime<Utc>| Some(to.map_or(t, |to| to.min(t)));
                phase(WITHIN, from, until(risk));
                phase(AT_RISK, from.max(risk), until(breach));
                phase(BREACHED, from.max(breach), to);
            }
        }
    }
    steps.sort_unstable_by_key(|s| s.0);
    entered.sort_unstable();
    left.sort_unstable();
    let within = |times: &[DateTime<Utc>], after: DateTime<Utc>, upto: DateTime<Utc>| {
        let upto_i = times.partition_point(|x| *x <= upto);
        let after_i = times.partition_point(|x| *x <= after);
        upto_i.saturating_sub(after_i) as i64
    };
    let mut levels = [0i64; 4];
    let mut next = 0;
    buckets
        .iter()
        .map(|b| {
            while next < steps.len() && steps[next].0 <= b.end {
                levels[steps[next].1] += steps[next].2;
                next += 1;
            }
            let known = capture_start.filter(|start| b.end >= *start);
            let count = |n: i64| known.map(|_| n);
            let flow_after = known.map(|start| b.t.max(start));
            let flow = |times: &[DateTime<Utc>]| flow_after.map(|a| within(times, a, b.end));
            Point {
                t: EatTime(b.t),
                end: EatTime(b.end),
                open: count(levels.iter().sum()),
                within: count(levels[WITHIN]),
                at_risk: count(levels[AT_RISK]),
                breached: count(levels[BREACHED]),
                unknown: count(levels[UNKNOWN]),
                entered: flow(&entered),
                left: flow(&left),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-06-16T{s}:00+03:00"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn v(id: &str, from: &str, to: Option<&str>, open: bool, cluster: &str) -> Version {
        Version {
            ticket_id: id.into(),
            valid_from: at(from),
            valid_to: to.map(at),
            is_actionable: open,
            cluster: Some(cluster.into()),
            normalized_status: Some(if open { "OPEN" } else { "CLOSED" }.into()),
            start: None,
        }
    }

    fn hourly(from: &str, to: &str) -> Vec<Bucket> {
        buckets(at(from), at(to), Interval::Hour).unwrap()
    }

    type Counts = (Option<i64>, Option<i64>, Option<i64>);

    fn open_entered_left(points: &[Point]) -> Vec<Counts> {
        points.iter().map(|p| (p.open, p.entered, p.left)).collect()
    }

    #[test]
    fn buckets_start_at_the_floored_from_and_the_last_ends_at_to() {
        let b = hourly("06:30", "09:15");
        let spans: Vec<(String, String)> = b
            .iter()
            .map(|b| (eat::rfc3339(b.t), eat::rfc3339(b.end)))
            .collect();
        assert_eq!(
            spans,
            [
                ("2026-06-16T06:00:00+03:00", "2026-06-16T07:00:00+03:00"),
                ("2026-06-16T07:00:00+03:00", "2026-06-16T08:00:00+03:00"),
                ("2026-06-16T08:00:00+03:00", "2026-06-16T09:00:00+03:00"),
                ("2026-06-16T09:00:00+03:00", "2026-06-16T09:15:00+03:00"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        // Days are EAT days: 02:00 EAT on the 16th is still 23:00 UTC on the 15th.
        let d = buckets(at("02:00"), at("02:00") + Duration::days(2), Interval::Day).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(eat::rfc3339(d[0].t), "2026-06-16T00:00:00+03:00");
        assert_eq!(eat::rfc3339(d[2].end), "2026-06-18T02:00:00+03:00");
        // 90 days hourly and a leap year of hours pass; one more hour does not.
        let from = at("00:00");
        assert_eq!(
            buckets(from, from + Duration::days(90), Interval::Hour).map(|b| b.len()),
            Ok(2160)
        );
        assert!(buckets(from, from + Duration::hours(8784), Interval::Hour).is_ok());
        assert_eq!(
            buckets(from, from + Duration::hours(8785), Interval::Hour),
            Err(8785)
        );
    }

    #[test]
    fn open_is_taken_at_each_end_and_flow_over_the_bucket() {
        let versions = [
            // Starting state at capture start (06:00): open, no flow.
            v("A", "06:00", Some("07:30"), true, "Karen"),
            v("A", "07:30", None, false, "Karen"), // closed at 07:30: left
            v("B", "06:30", Some("08:00"), true, "Karen"), // new at 06:30: entered
            v("B", "08:00", None, true, "Westlands"), // reassigned: no flow unfiltered
            v("C", "08:00", None, true, "Karen"),  // new at 08:00 sharp (end of a bucket)
        ];
        let p = compute(
            &versions,
            &hourly("05:00", "09:00"),
            Some(at("06:00")),
            &Filters::default(),
            24.0,
        );
        assert_eq!(
            open_entered_left(&p),
            [
                // 05:00–06:00 ends at capture start: the starting state, no flow.
                (Some(1), Some(0), Some(0)),
                (Some(2), Some(1), Some(0)),
                (Some(2), Some(1), Some(1)),
                (Some(2), Some(0), Some(0)),
            ]
        );
    }

    #[test]
    fn before_capture_start_everything_is_null() {
        let versions = [v("A", "06:00", None, true, "Karen")];
        let p = compute(
            &versions,
            &hourly("04:00", "07:00"),
            Some(at("06:00")),
            &Filters::default(),
            24.0,
        );
        assert_eq!(p[0].open, None);
        assert_eq!(p[0].within, None);
        assert_eq!(p[0].entered, None);
        // 05:00–06:00 ends at capture start: the starting state is known, and is no flow.
        assert_eq!(open_entered_left(&p[1..]), [(Some(1), Some(0), Some(0)); 2]);
        // No capture at all: nothing is known.
        assert!(compute(
            &versions,
            &hourly("06:00", "08:00"),
            None,
            &Filters::default(),
            24.0
        )
        .iter()
        .all(|p| p.open.is_none() && p.left.is_none()));
    }

    #[test]
    fn filters_apply_to_the_version_valid_at_the_instant() {
        let versions = [
            v("B", "06:00", Some("07:20"), true, "Karen"),
            v("B", "07:20", Some("07:40"), true, "Westlands"), // moves out of Karen
            v("B", "07:40", None, true, "karen"),              // and back (any case)
        ];
        let karen = Filters {
            cluster: vec!["Karen".into()],
            status: vec![],
        };
        let p = compute(
            &versions,
            &hourly("06:00", "08:00"),
            Some(at("06:00")),
            &karen,
            24.0,
        );
        assert_eq!(
            open_entered_left(&p),
            [(Some(1), Some(0), Some(0)), (Some(1), Some(1), Some(1))]
        );
        let all = compute(
            &versions,
            &hourly("06:00", "08:00"),
            Some(at("06:00")),
            &Filters::default(),
            24.0,
        );
        assert_eq!(open_entered_left(&all)[1], (Some(1), Some(0), Some(0)));
    }

    #[test]
    fn the_sla_split_ages_at_each_end_as_the_dashboard_judges_it() {
        let mut aged = v("A", "06:00", None, true, "Karen");
        aged.start = Some(at("06:00") - Duration::hours(17) - Duration::minutes(30));
        let mut unknown = v("U", "06:00", None, true, "Karen");
        unknown.start = None;
        let versions = [aged.clone(), unknown];
        let p = compute(
            &versions,
            &hourly("06:00", "13:00"),
            Some(at("06:00")),
            &Filters::default(),
            24.0,
        );
        for point in &p {
            let (_, state) = sla::open(aged.start, point.end.0, 24.0);
            let expect = |s: sla::OpenSla| Some(i64::from(state == s));
            assert_eq!(point.within, expect(sla::OpenSla::Within));
            assert_eq!(point.at_risk, expect(sla::OpenSla::AtRisk));
            assert_eq!(point.breached, expect(sla::OpenSla::Breached));
            assert_eq!(point.unknown, Some(1));
            assert_eq!(point.open, Some(2));
        }
        // 17.5 h at 06:00: at risk from 06:30 on (18 h), breached from 12:30 (24 h).
        assert_eq!(p[0].at_risk, Some(1)); // at 07:00
        assert_eq!(p[5].at_risk, Some(1)); // at 12:00
        assert_eq!(p[6].breached, Some(1)); // at 13:00
    }

    #[test]
    fn open_at_end_is_the_previous_open_plus_the_flow() {
        // A ticket that opens, closes, reopens and closes within the hours.
        let versions = [
            v("A", "06:10", Some("06:20"), true, "Karen"),
            v("A", "06:20", Some("07:05"), false, "Karen"),
            v("A", "07:05", Some("09:00"), true, "Karen"),
            v("A", "09:00", None, false, "Karen"),
            v("B", "06:00", None, true, "Karen"),
        ];
        let p = compute(
            &versions,
            &hourly("06:00", "10:00"),
            Some(at("06:00")),
            &Filters::default(),
            24.0,
        );
        assert_eq!(
            open_entered_left(&p),
            [
                (Some(1), Some(1), Some(1)),
                (Some(2), Some(1), Some(0)),
                // A closes at 09:00 sharp: no longer open at the instant 09:00.
                (Some(1), Some(0), Some(1)),
                (Some(1), Some(0), Some(0)),
            ]
        );
    }
}
