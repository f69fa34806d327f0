//! When `serve` ingests: a cron expression evaluated in Africa/Nairobi.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;

use super::run::Ingester;
use super::Mode;
use crate::eat;

#[derive(Debug, Clone)]
pub struct Schedule(Cron);

impl Schedule {
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        Cron::from_str(expr)
            .map(Schedule)
            .map_err(|e| format!("INGEST_CRON {expr:?} is not a cron expression: {e}"))
    }

    /// The first run time strictly after `t`, in EAT wall-clock terms.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .find_next_occurrence(&t.with_timezone(&eat::TZ), false)
            .ok()
            .map(|n| n.with_timezone(&Utc))
    }
}

/// Runs the ingester on the schedule (under the supervisor), and once first when
/// `on_start`, even without a schedule (`INGEST_CRON=off`). Failed runs are logged and
/// counted by the ingester; the next tick tries again. Ends when the schedule has no
/// next run.
pub async fn run(
    ingester: Ingester,
    schedule: Option<Schedule>,
    on_start: bool,
) -> anyhow::Result<()> {
    let run = || async {
        ingester.run(Mode::Apply).await.ok();
    };
    if on_start {
        run().await;
    }
    let Some(schedule) = schedule else {
        return Ok(());
    };
    loop {
        let now = Utc::now();
        let Some(next) = schedule.next_after(now) else {
            tracing::warn!("the ingest schedule has no next run; scheduled ingest stops");
            return Ok(());
        };
        let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
        tracing::debug!(next = %eat::rfc3339(next), "next ingest run");
        tokio::time::sleep(wait).await;
        run().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(after, next run)` pairs, as RFC 3339.
    fn runs(cron: &str, cases: &[(&str, &str)]) {
        let s = Schedule::parse(cron).unwrap();
        for (after, next) in cases {
            let at = crate::eat::instant;
            assert_eq!(
                s.next_after(at(after)),
                Some(at(next)),
                "{cron} after {after}"
            );
        }
    }

    #[test]
    fn the_default_schedule_runs_hourly_in_eat_working_hours() {
        runs(
            "15 7-19 * * *",
            &[
                // 06:00 EAT → 07:15 EAT.
                ("2026-06-16T06:00:00+03:00", "2026-06-16T07:15:00+03:00"),
                // 07:15 EAT exactly → 08:15 (strictly after).
                ("2026-06-16T07:15:00+03:00", "2026-06-16T08:15:00+03:00"),
                // 19:20 EAT → 07:15 the next day; 23:30 UTC is already the next EAT day.
                ("2026-06-16T19:20:00+03:00", "2026-06-17T07:15:00+03:00"),
                ("2026-06-16T23:30:00Z", "2026-06-17T07:15:00+03:00"),
            ],
        );
    }

    #[test]
    fn seconds_are_optional_and_nonsense_is_refused() {
        runs(
            "*/5 * * * * *",
            &[("2026-06-16T06:00:01Z", "2026-06-16T06:00:05Z")],
        );
        let err = Schedule::parse("every hour").unwrap_err();
        assert!(
            err.starts_with("INGEST_CRON \"every hour\" is not a cron expression"),
            "{err}"
        );
    }
}
