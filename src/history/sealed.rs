//! The unfiltered backlog sealed hour by hour (`tickets.backlog_hourly`): for each EAT
//! hour that ended before the newest recorded version time, the point `backlog::compute`
//! gives for it. Such a point can no longer change, because an import records versions
//! from its own time on, never earlier. So the unfiltered backlog reads these rows
//! and computes from the versions only the buckets they do not cover (the hours since the
//! last import, the bucket where capture starts). A backfill, which rewrites the past,
//! drops them; retention drops those before the new capture start.

use std::ops::Range;

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgExecutor, PgPool};

use super::backlog::{self, Bucket, Interval, Point, Version};
use super::read;
use crate::db::lock::IngestLock;
use crate::eat::EatTime;
use crate::params::Filters;

/// Hours sealed per read of the versions: a week's at a time keeps memory bounded.
const CHUNK: i64 = 168;

/// One sealed hour: the point of the bucket `(hour_end − 1 h, hour_end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SealedHour {
    pub hour_end: DateTime<Utc>,
    pub open: i64,
    pub within: i64,
    pub at_risk: i64,
    pub breached: i64,
    pub unknown: i64,
    pub entered: i64,
    pub left: i64,
}

fn hour() -> Duration {
    Duration::hours(1)
}

/// The hour ends still to seal: from the hour after `last_sealed` (or the first hour that
/// starts at or after capture start) to the last hour end before `newest`, the newest
/// version time (an import at that same instant may still replace its versions).
pub fn to_seal(
    capture_start: DateTime<Utc>,
    newest: DateTime<Utc>,
    last_sealed: Option<DateTime<Utc>>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let ceil = |t: DateTime<Utc>| {
        let floor = Interval::Hour.floor(t);
        if floor == t {
            t
        } else {
            floor + hour()
        }
    };
    let first_possible = ceil(capture_start) + hour();
    let first = last_sealed.map_or(first_possible, |l| (l + hour()).max(first_possible));
    let last = ceil(newest) - hour();
    (first <= last).then_some((first, last))
}

/// How one bucket is answered: by its leading sealed hours (the last one's backlog, the
/// sum of their flow), and for the rest of it, if any, by the versions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    bucket: Bucket,
    sealed: Option<(SealedHour, i64, i64)>,
    /// Never `None` when `sealed` is: a bucket is not empty.
    rest: Option<Bucket>,
}

/// The plan of each bucket, given the sealed hours ordered by `hour_end`. A bucket's
/// leading hours count only while each is sealed; the rest of it (the hours since the
/// last import, a period ending between two whole hours) is left to the versions.
pub fn plan(buckets: &[Bucket], sealed: &[SealedHour]) -> Vec<Plan> {
    let row = |end: DateTime<Utc>| {
        sealed
            .binary_search_by_key(&end, |s| s.hour_end)
            .ok()
            .map(|i| sealed[i])
    };
    buckets
        .iter()
        .map(|b| {
            let mut lead: Option<(SealedHour, i64, i64)> = None;
            let mut upto = b.t;
            while let Some(r) = Some(upto + hour()).filter(|e| *e <= b.end).and_then(row) {
                let (entered, left) = lead.map_or((0, 0), |(_, n, l)| (n, l));
                lead = Some((r, entered + r.entered, left + r.left));
                upto = r.hour_end;
            }
            Plan {
                bucket: *b,
                sealed: lead,
                rest: (upto < b.end).then_some(Bucket {
                    t: upto,
                    end: b.end,
                }),
            }
        })
        .collect()
}

/// The runs of consecutive buckets whose plans leave a rest to compute.
fn runs(plans: &[Plan]) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    for (i, _) in plans.iter().enumerate().filter(|(_, p)| p.rest.is_some()) {
        match runs.last_mut() {
            Some(run) if run.end == i => run.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    runs
}

/// What a series is made from: each bucket's plan (sealed hours for unfiltered requests
/// only: the rows hold the whole backlog), and the versions of each run of rests.
pub struct Parts {
    pub capture_start: Option<DateTime<Utc>>,
    plans: Vec<Plan>,
    runs: Vec<(Range<usize>, Vec<Version>)>,
}

impl Parts {
    /// The versions read to compute the buckets the sealed hours leave.
    pub fn versions(&self) -> usize {
        self.runs.iter().map(|(_, v)| v.len()).sum()
    }

    /// Reads them for `buckets` (in order).
    pub async fn read(
        db: &PgPool,
        buckets: &[Bucket],
        filters: &Filters,
        sla_target_hours: f64,
    ) -> sqlx::Result<Parts> {
        let span = buckets
            .first()
            .zip(buckets.last())
            .map(|(f, l)| (f.t, l.end));
        let unfiltered = *filters == Filters::default();
        let (capture_start, sealed) = futures::try_join!(read::capture_start(db), async {
            match (unfiltered, span) {
                (true, Some((after, upto))) => self::read(db, after, upto, sla_target_hours).await,
                _ => Ok(Vec::new()),
            }
        })?;
        let plans = plan(buckets, &sealed);
        let runs = futures::future::try_join_all(runs(&plans).into_iter().map(|run| {
            let rests: Vec<Bucket> = plans[run.clone()].iter().filter_map(|p| p.rest).collect();
            async move {
                let (from, to) = (rests[0].t, rests[rests.len() - 1].end);
                Ok::<_, sqlx::Error>((run, read::versions(db, from, to, filters).await?))
            }
        }))
        .await?;
        Ok(Parts {
            capture_start,
            plans,
            runs,
        })
    }

    /// The series: the rests computed from their versions and joined to the sealed
    /// hours before them (CPU-bound: run it off the async threads).
    pub fn series(self, filters: &Filters, sla_target_hours: f64) -> Vec<Point> {
        let mut rests: Vec<Option<Point>> = vec![None; self.plans.len()];
        for (run, versions) in &self.runs {
            let buckets: Vec<Bucket> = self.plans[run.clone()]
                .iter()
                .filter_map(|p| p.rest)
                .collect();
            let computed = backlog::compute(
                versions,
                &buckets,
                self.capture_start,
                filters,
                sla_target_hours,
            );
            for (slot, point) in rests[run.clone()].iter_mut().zip(computed) {
                *slot = Some(point);
            }
        }
        self.plans
            .iter()
            .zip(rests)
            .map(|(plan, rest)| {
                let (t, end) = (EatTime(plan.bucket.t), EatTime(plan.bucket.end));
                let (entered, left) = plan.sealed.map_or((0, 0), |(_, n, l)| (n, l));
                match (rest, plan.sealed) {
                    (Some(rest), _) => Point {
                        t,
                        entered: rest.entered.map(|n| n + entered),
                        left: rest.left.map(|l| l + left),
                        ..rest
                    },
                    (None, last) => {
                        let count = |f: fn(&SealedHour) -> i64| last.map(|(h, _, _)| f(&h));
                        Point {
                            t,
                            end,
                            open: count(|h| h.open),
                            within: count(|h| h.within),
                            at_risk: count(|h| h.at_risk),
                            breached: count(|h| h.breached),
                            unknown: count(|h| h.unknown),
                            entered: Some(entered),
                            left: Some(left),
                        }
                    }
                }
            })
            .collect()
    }
}

/// The sealed hours ending in `(after, upto]` for this SLA target.
pub async fn read(
    db: impl PgExecutor<'_>,
    after: DateTime<Utc>,
    upto: DateTime<Utc>,
    sla_target_hours: f64,
) -> sqlx::Result<Vec<SealedHour>> {
    sqlx::query_as(
        "SELECT hour_end, open, within, at_risk, breached, unknown, entered, \"left\"
         FROM tickets.backlog_hourly
         WHERE hour_end > $1 AND hour_end <= $2 AND sla_target_hours = $3
         ORDER BY hour_end",
    )
    .bind(after)
    .bind(upto)
    .bind(sla_target_hours)
    .fetch_all(db)
    .await
}

/// Seals every hour that can be sealed, never one that ends after `now` (a version
/// stamped ahead of the clock must not freeze a future hour); returns how many were.
/// Rows of another SLA target are dropped first (one target per deployment). Run by the
/// ingester, under the ingest lock, after each run.
#[tracing::instrument(name = "seal", skip(pool, _lock), fields(sealed))]
pub async fn extend(
    pool: &PgPool,
    _lock: &IngestLock,
    sla_target_hours: f64,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM tickets.backlog_hourly WHERE sla_target_hours <> $1")
        .bind(sla_target_hours)
        .execute(&mut *tx)
        .await?;
    type Instants = (
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let (start, newest, last): Instants = sqlx::query_as(
        "SELECT (SELECT started_at FROM tickets.history_capture),
                    (SELECT max(valid_from) FROM tickets.inc_history),
                    (SELECT max(hour_end) FROM tickets.backlog_hourly)",
    )
    .fetch_one(&mut *tx)
    .await?;
    let Some((first, last)) = start
        .zip(newest)
        .and_then(|(start, newest)| to_seal(start, newest.min(now), last))
    else {
        return Ok(0);
    };
    let filters = Filters::default();
    let mut sealed = 0;
    let mut from = first - hour();
    while from < last {
        let to = (from + hour() * CHUNK as i32).min(last);
        let buckets = backlog::buckets(from, to, Interval::Hour).unwrap_or_default();
        let versions = read::versions(&mut *tx, from, to, &filters).await?;
        let points = backlog::compute(&versions, &buckets, start, &filters, sla_target_hours);
        let column = |f: fn(&Point) -> Option<i64>| -> Vec<i64> {
            points.iter().map(|p| f(p).unwrap_or_default()).collect()
        };
        let ends: Vec<DateTime<Utc>> = points.iter().map(|p| p.end.0).collect();
        sealed += sqlx::query(
            "INSERT INTO tickets.backlog_hourly
                 (hour_end, sla_target_hours, open, within, at_risk, breached, unknown, entered, \"left\")
             SELECT e, $2, o, w, r, b, u, n, l
             FROM unnest($1::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[],
                         $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
                  AS x(e, o, w, r, b, u, n, l)
             ON CONFLICT (hour_end) DO NOTHING",
        )
        .bind(&ends)
        .bind(sla_target_hours)
        .bind(column(|p| p.open))
        .bind(column(|p| p.within))
        .bind(column(|p| p.at_risk))
        .bind(column(|p| p.breached))
        .bind(column(|p| p.unknown))
        .bind(column(|p| p.entered))
        .bind(column(|p| p.left))
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        from = to;
    }
    tx.commit().await?;
    tracing::Span::current().record("sealed", sealed);
    if sealed > 0 {
        tracing::info!(sealed, "backlog hours sealed");
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::backlog::{buckets, compute};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-06-{s}+03:00"))
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn seals_whole_hours_after_capture_start_and_before_the_newest_version() {
        // Capture at 06:20: the first whole hour after it is 07:00–08:00.
        let s = to_seal(at("16T06:20:00"), at("16T10:00:00"), None);
        assert_eq!(s, Some((at("16T08:00:00"), at("16T09:00:00"))));
        // An aligned start seals its own hour; the newest version time's hour waits.
        let s = to_seal(at("16T06:00:00"), at("16T10:30:00"), None);
        assert_eq!(s, Some((at("16T07:00:00"), at("16T10:00:00"))));
        // Goes on from the last sealed hour; nothing left to seal.
        let s = to_seal(
            at("16T06:00:00"),
            at("16T10:30:00"),
            Some(at("16T08:00:00")),
        );
        assert_eq!(s, Some((at("16T09:00:00"), at("16T10:00:00"))));
        assert_eq!(
            to_seal(
                at("16T06:00:00"),
                at("16T10:00:00"),
                Some(at("16T09:00:00"))
            ),
            None
        );
        assert_eq!(to_seal(at("16T06:00:00"), at("16T06:30:00"), None), None);
    }

    /// A ticket history with an unaligned capture start, reopenings, SLA crossings inside
    /// hours and a ticket closed mid-hour.
    fn history() -> Vec<Version> {
        let v = |id: &str, from: &str, to: Option<&str>, open: bool, start: Option<&str>| Version {
            ticket_id: id.into(),
            valid_from: at(from),
            valid_to: to.map(at),
            is_actionable: open,
            cluster: Some("Kisumu".into()),
            normalized_status: Some(if open { "OPEN" } else { "CLOSED" }.into()),
            start: start.map(at),
        };
        vec![
            v(
                "A",
                "14T06:20:00",
                Some("16T09:00:00"),
                true,
                Some("14T20:10:00"),
            ),
            v(
                "A",
                "16T09:00:00",
                Some("16T13:00:00"),
                false,
                Some("14T20:10:00"),
            ),
            v("A", "16T13:00:00", None, true, Some("14T20:10:00")),
            v("B", "14T06:20:00", None, true, None),
            v(
                "C",
                "15T11:00:00",
                Some("16T02:40:00"),
                true,
                Some("15T10:45:00"),
            ),
            v("C", "16T02:40:00", None, false, Some("15T10:45:00")),
            v("D", "15T23:00:00", None, true, Some("15T08:30:00")),
        ]
    }

    /// Sealed rows as `extend` makes them: `compute` over whole hours.
    fn seal(versions: &[Version], start: DateTime<Utc>, newest: DateTime<Utc>) -> Vec<SealedHour> {
        let (first, last) = to_seal(start, newest, None).unwrap();
        let hours = buckets(first - hour(), last, Interval::Hour).unwrap();
        compute(versions, &hours, Some(start), &Filters::default(), 24.0)
            .into_iter()
            .map(|p| SealedHour {
                hour_end: p.end.0,
                open: p.open.unwrap(),
                within: p.within.unwrap(),
                at_risk: p.at_risk.unwrap(),
                breached: p.breached.unwrap(),
                unknown: p.unknown.unwrap(),
                entered: p.entered.unwrap(),
                left: p.left.unwrap(),
            })
            .collect()
    }

    /// The series as `Parts` gives it, every run reading all the versions.
    fn merged(
        versions: &[Version],
        bs: &[Bucket],
        sealed: &[SealedHour],
        start: DateTime<Utc>,
    ) -> Vec<Point> {
        let plans = plan(bs, sealed);
        let runs = runs(&plans)
            .into_iter()
            .map(|r| (r, versions.to_vec()))
            .collect();
        Parts {
            capture_start: Some(start),
            plans,
            runs,
        }
        .series(&Filters::default(), 24.0)
    }

    #[test]
    fn sealed_hours_and_the_versions_give_the_same_series() {
        let versions = history();
        let start = at("14T06:20:00");
        let sealed = seal(&versions, start, at("16T14:00:00"));
        assert_eq!(sealed.len(), 54, "08:00 on the 14th to 13:00 on the 16th");
        let cases = [
            (at("15T00:00:00"), at("16T15:30:00"), Interval::Hour),
            (at("14T05:00:00"), at("16T12:00:00"), Interval::Hour),
            (at("13T00:00:00"), at("16T15:30:00"), Interval::Day),
            (at("16T00:00:00"), at("16T13:00:00"), Interval::Day),
        ];
        for (from, to, interval) in cases {
            let bs = buckets(from, to, interval).unwrap();
            let exact = compute(&versions, &bs, Some(start), &Filters::default(), 24.0);
            let sealed_used = plan(&bs, &sealed)
                .iter()
                .filter(|p| p.sealed.is_some())
                .count();
            assert!(
                sealed_used > 0,
                "{from} {interval:?}: some buckets use sealed hours"
            );
            assert_eq!(
                merged(&versions, &bs, &sealed, start),
                exact,
                "{from} {to} {interval:?}"
            );
        }
    }

    #[test]
    fn what_the_sealed_hours_do_not_cover_is_left_to_the_versions() {
        let versions = history();
        let start = at("14T06:20:00");
        let mut sealed = seal(&versions, start, at("16T14:00:00"));
        sealed.retain(|s| s.hour_end != at("16T10:00:00"));
        let bucket = |t: &str, end: &str| {
            Some(Bucket {
                t: at(t),
                end: at(end),
            })
        };
        let bs = buckets(at("16T08:00:00"), at("16T12:30:00"), Interval::Hour).unwrap();
        let rests: Vec<_> = plan(&bs, &sealed).iter().map(|p| p.rest).collect();
        assert_eq!(
            rests,
            [
                None,
                bucket("16T09:00:00", "16T10:00:00"),
                None,
                None,
                bucket("16T12:00:00", "16T12:30:00")
            ]
        );
        assert_eq!(runs(&plan(&bs, &sealed)), [1..2, 4..5]);
        let exact = compute(&versions, &bs, Some(start), &Filters::default(), 24.0);
        assert_eq!(merged(&versions, &bs, &sealed, start), exact);
        // A day uses its hours up to the first one missing, and computes the rest.
        let days = buckets(at("16T00:00:00"), at("16T12:00:00"), Interval::Day).unwrap();
        let p = plan(&days, &sealed);
        assert_eq!(p[0].sealed.map(|s| s.0.hour_end), Some(at("16T09:00:00")));
        assert_eq!(p[0].rest, bucket("16T09:00:00", "16T12:00:00"));
        let exact = compute(&versions, &days, Some(start), &Filters::default(), 24.0);
        assert_eq!(merged(&versions, &days, &sealed, start), exact);
    }
}
