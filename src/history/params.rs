//! The backlog's query string (`history.md`), validated like the dashboard's: every
//! refusal names its parameter.

use chrono::{DateTime, Duration, Utc};

use super::backlog::{self, Bucket, Interval, MAX_BUCKETS};
use crate::params::range::{ordered, Bound};
use crate::params::{refuse, Filters, ParamError, Query, FILTER_PARAMS};

/// The default period, and the longest one `interval` defaults to `hour` for.
const DEFAULT_DAYS: i64 = 7;

/// A validated backlog request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklogRequest {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interval: Interval,
    pub filters: Filters,
    pub buckets: Vec<Bucket>,
    /// The bounds that follow the server clock (`None`): what a cache key may hold.
    pub fixed_from: Option<DateTime<Utc>>,
    pub fixed_to: Option<DateTime<Utc>>,
}

/// Parses `from`, `to`, `interval`, `cluster` and `status`; `now` is the server clock.
pub fn parse(query: &str, now: DateTime<Utc>) -> Result<BacklogRequest, ParamError> {
    let mut q = Query::parse(query, &["from", "to", "interval"], &FILTER_PARAMS)?;
    let (from, to, interval) = (q.take("from"), q.take("to"), q.take("interval"));
    let filters = q.filters()?;
    request(
        from.as_deref().map(|t| ("from", t)),
        to.as_deref().map(|t| ("to", t)),
        interval.as_deref(),
        filters,
        now,
    )
}

/// The request for these bounds (`(parameter, text)` as the client gave them, absent as
/// `None`), `interval` and already validated filters: what the Grafana datasource asks
/// for a panel (its bounds named `range.from` and `range.to`), refused as the route
/// refuses the same values.
pub fn request(
    from: Option<(&str, &str)>,
    to: Option<(&str, &str)>,
    interval: Option<&str>,
    filters: Filters,
    now: DateTime<Utc>,
) -> Result<BacklogRequest, ParamError> {
    let from_given = from.map(|(p, t)| Bound::parse(p, t)).transpose()?;
    let to_given = to.map(|(p, t)| Bound::parse(p, t)).transpose()?;
    if let (Some(from), Some(to)) = (&from_given, &to_given) {
        ordered(from, to)?;
    }
    // A `to` after now is taken as now, and then follows the clock like no `to`.
    let fixed_to = to_given.map(|b| b.at).filter(|t| *t < now);
    let to = fixed_to.unwrap_or(now);
    let fixed_from = match &from_given {
        Some(b) => Some(b.at),
        None => fixed_to.map(|to| to - Duration::days(DEFAULT_DAYS)),
    };
    let from = fixed_from.unwrap_or(to - Duration::days(DEFAULT_DAYS));
    // Ordered as given, so only a `from` after the clock is left to refuse.
    if let Some(b) = from_given.filter(|b| b.at >= to) {
        return Err(refuse(
            b.param,
            format!(
                "{:?} is not before now ({})",
                b.text,
                crate::eat::rfc3339(to)
            ),
        ));
    }
    let interval = match interval {
        None if to - from <= Duration::days(DEFAULT_DAYS) => Interval::Hour,
        None => Interval::Day,
        Some(text) => Interval::parse(text)
            .ok_or_else(|| refuse("interval", format!("{text:?} is not one of hour, day")))?,
    };
    let buckets = backlog::buckets(from, to, interval).map_err(|n| {
        let param = if interval == Interval::Hour {
            "interval"
        } else {
            "from"
        };
        refuse(
            param,
            format!(
                "the period has {n} buckets, more than {MAX_BUCKETS}: narrow the period or use interval=day"
            ),
        )
    })?;
    Ok(BacklogRequest {
        from,
        to,
        interval,
        filters,
        buckets,
        fixed_from,
        fixed_to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eat;

    fn now() -> DateTime<Utc> {
        crate::eat::instant("2026-06-16T10:20:00+03:00")
    }

    fn err(q: &str) -> (String, String) {
        let e = parse(q, now()).unwrap_err();
        (e.param, e.detail)
    }

    #[test]
    fn defaults_to_the_last_seven_days_hourly_following_the_clock() {
        let r = parse("", now()).unwrap();
        assert_eq!(r.to, now());
        assert_eq!(r.from, now() - Duration::days(7));
        assert_eq!(r.interval, Interval::Hour);
        assert_eq!((r.fixed_from, r.fixed_to), (None, None));
        // 7 days from 10:20 hourly: from 10:00 to 10:20 a week later.
        assert_eq!(r.buckets.len(), 7 * 24 + 1);
        assert_eq!(eat::rfc3339(r.buckets[0].t), "2026-06-09T10:00:00+03:00");
        // A `to` in the future is now.
        let r = parse("to=2027-01-01", now()).unwrap();
        assert_eq!((r.to, r.fixed_to), (now(), None));
    }

    #[test]
    fn longer_periods_default_to_days_and_filters_are_the_dashboards() {
        let r = parse(
            "from=2026-05-01&to=2026-06-01&cluster=Karen,westlands&status=open",
            now(),
        )
        .unwrap();
        assert_eq!(r.interval, Interval::Day);
        assert_eq!(r.buckets.len(), 31);
        assert_eq!(
            r.fixed_from,
            Some(eat::midnight(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
            ))
        );
        assert_eq!(r.filters.cluster, ["Karen", "westlands"]);
        assert_eq!(r.filters.status, ["OPEN"]);
        let r = parse("to=2026-06-10T12:00:00Z", now()).unwrap();
        assert_eq!(r.from, r.to - Duration::days(7));
        assert_eq!(r.fixed_from, Some(r.from));
    }

    #[test]
    fn every_bad_input_names_its_parameter() {
        assert_eq!(err("interval=week").0, "interval");
        assert_eq!(err("from=yesterday").0, "from");
        assert_eq!(err("to=2026-02-30").0, "to");
        assert_eq!(err("from=2026-06-16T10:20:00+03:00").0, "from");
        // A reversed range blames its end, as on every route; a `from` after the clock
        // blames `from`.
        assert_eq!(err("from=2026-06-10&to=2026-06-09").0, "to");
        assert_eq!(err("from=2026-06-17&to=2026-06-20").0, "from");
        assert_eq!(err("status=DONE").0, "status");
        assert_eq!(err("window=week").0, "window");
        assert_eq!(
            err("interval=hour&interval=day"),
            ("interval".into(), "given more than once".into())
        );
        let (param, detail) = err("from=2025-01-01&interval=hour");
        assert_eq!(param, "interval");
        assert!(
            detail.contains("narrow the period or use interval=day"),
            "{detail}"
        );
        // 36 years of days is too many too, and then the period is what to change.
        assert_eq!(err("from=1990-01-01&interval=day").0, "from");
    }
}
