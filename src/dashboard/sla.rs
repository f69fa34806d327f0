//! SLA: derived for open tickets (the source value is stale on them), mapped from the
//! source for closed ones.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::round;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpenSla {
    Within,
    AtRisk,
    Breached,
    Unknown,
}

impl OpenSla {
    pub const ALL: [OpenSla; 4] = [
        OpenSla::Within,
        OpenSla::AtRisk,
        OpenSla::Breached,
        OpenSla::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpenSla::Within => "within",
            OpenSla::AtRisk => "at_risk",
            OpenSla::Breached => "breached",
            OpenSla::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<OpenSla> {
        OpenSla::ALL.into_iter().find(|o| o.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosedSla {
    Met,
    Breached,
    Unknown,
}

const MICROS_PER_HOUR: i128 = 3_600_000_000;

/// `hours_open` (1 decimal, never below 0; `None` without a start) and the SLA state,
/// judged on the unrounded duration against `target_hours`.
pub fn open(
    start: Option<DateTime<Utc>>,
    as_of: DateTime<Utc>,
    target_hours: f64,
) -> (Option<f64>, OpenSla) {
    let Some(start) = start else {
        return (None, OpenSla::Unknown);
    };
    let micros = i128::from(
        (as_of - start)
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0),
    );
    let target = (target_hours * MICROS_PER_HOUR as f64) as i128;
    let state = if micros >= target {
        OpenSla::Breached
    } else if micros * 4 >= target * 3 {
        OpenSla::AtRisk
    } else {
        OpenSla::Within
    };
    (Some(round::ratio(micros, MICROS_PER_HOUR, 1)), state)
}

/// How long after its start an open ticket turns `at_risk` and `breached`: the instants
/// at which `open` changes its verdict, to the microsecond.
pub fn thresholds(target_hours: f64) -> (chrono::Duration, chrono::Duration) {
    let target = (target_hours * MICROS_PER_HOUR as f64) as i128;
    // at_risk when micros * 4 >= target * 3, i.e. micros >= ceil(3 target / 4).
    let at_risk = (target * 3 + 3) / 4;
    let micros = |m: i128| chrono::Duration::microseconds(i64::try_from(m).unwrap_or(i64::MAX));
    (micros(at_risk), micros(target))
}

/// The source `sla_status`, trimmed and case-insensitive.
pub fn closed(sla_status: Option<&str>) -> ClosedSla {
    match sla_status.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("met") => ClosedSla::Met,
        Some("breached") => ClosedSla::Breached,
        _ => ClosedSla::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn as_of() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-16T10:00:00+03:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn after(d: Duration) -> (Option<f64>, OpenSla) {
        open(Some(as_of() - d), as_of(), 24.0)
    }

    #[test]
    fn states_are_judged_on_the_unrounded_duration() {
        assert_eq!(after(Duration::hours(24)), (Some(24.0), OpenSla::Breached));
        // 23 h 59 m 59 s rounds to 24.0 but is not yet breached.
        assert_eq!(
            after(Duration::seconds(24 * 3600 - 1)),
            (Some(24.0), OpenSla::AtRisk)
        );
        assert_eq!(after(Duration::hours(18)), (Some(18.0), OpenSla::AtRisk));
        assert_eq!(
            after(Duration::seconds(18 * 3600 - 1)),
            (Some(18.0), OpenSla::Within)
        );
        assert_eq!(after(Duration::minutes(3)), (Some(0.1), OpenSla::Within)); // 0.05 → 0.1
        assert_eq!(after(Duration::seconds(179)), (Some(0.0), OpenSla::Within));
        assert_eq!(
            after(Duration::minutes(2475)),
            (Some(41.3), OpenSla::Breached)
        ); // 41.25
    }

    #[test]
    fn a_start_after_as_of_counts_as_zero_and_no_start_is_unknown() {
        assert_eq!(after(Duration::hours(-5)), (Some(0.0), OpenSla::Within));
        assert_eq!(open(None, as_of(), 24.0), (None, OpenSla::Unknown));
    }

    #[test]
    fn the_target_is_configurable() {
        assert_eq!(
            open(Some(as_of() - Duration::hours(6)), as_of(), 8.0).1,
            OpenSla::AtRisk
        );
        assert_eq!(
            open(Some(as_of() - Duration::hours(8)), as_of(), 8.0).1,
            OpenSla::Breached
        );
    }

    #[test]
    fn thresholds_are_where_the_verdict_changes() {
        for target in [24.0, 8.0, 0.001, 7.3, 0.000_000_277] {
            let (at_risk, breached) = thresholds(target);
            let verdict = |d: Duration| open(Some(as_of() - d), as_of(), target).1;
            let us = Duration::microseconds(1);
            assert_eq!(verdict(at_risk - us), OpenSla::Within, "{target}");
            assert_eq!(verdict(at_risk), OpenSla::AtRisk, "{target}");
            assert_eq!(verdict(breached - us), OpenSla::AtRisk, "{target}");
            assert_eq!(verdict(breached), OpenSla::Breached, "{target}");
        }
    }

    #[test]
    fn closed_sla_maps_the_source_value() {
        assert_eq!(closed(Some("Met")), ClosedSla::Met);
        assert_eq!(closed(Some(" BREACHED ")), ClosedSla::Breached);
        for other in [None, Some(""), Some("N/A"), Some("Within SLA")] {
            assert_eq!(closed(other), ClosedSla::Unknown);
        }
    }
}
