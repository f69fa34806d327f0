//! `timetravel.md`'s invariant over generated histories: the recorded dashboard at `t`
//! (`replay::rows` and `compute` over the versions valid at `t`) has the open count and
//! open SLA split of the backlog at the instant `t` (`history::backlog::compute`).

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::backlog::{self, Bucket, Version};
use crate::dashboard::freshness::{Freshness, ImportState};
use crate::dashboard::replay::{self, HistorySpan, Replay, ReplayMode};
use crate::dashboard::{compute, Rules, Ticket};
use crate::params::window::{Window, WindowKind};
use crate::params::{DashboardRequest, Filters};

const CLUSTERS: [Option<&str>; 3] = [Some("Karen"), Some("westlands"), None];
const STATUSES: [&str; 4] = ["OPEN", "PENDING", "RESOLVED", "CLOSED"];

/// One version: minutes after the previous one, actionable, cluster, status, and the
/// SLA start in minutes from the base (none for `None`).
type Step = (i64, bool, usize, usize, Option<i64>);

fn base() -> DateTime<Utc> {
    crate::eat::instant("2026-06-15T00:00:00+03:00")
}

/// A ticket's versions, each valid until the next one's start (the last one current).
fn history(id: usize, steps: &[Step]) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>, Ticket)> {
    let mut at = base();
    let froms: Vec<DateTime<Utc>> = steps
        .iter()
        .map(|s| {
            at += Duration::minutes(s.0);
            at
        })
        .collect();
    steps
        .iter()
        .enumerate()
        .map(|(i, &(_, open, cluster, status, start))| {
            let start = start.map(|m| base() + Duration::minutes(m));
            let ticket = Ticket {
                ticket_id: format!("INC{id}").into(),
                normalized_status: Some(STATUSES[status].into()),
                cluster: CLUSTERS[cluster].map(Into::into),
                is_actionable: Some(open),
                created_at_service: start,
                // A closing time on the closing versions, so the window's sets vary too.
                closed_at: (!open).then_some(froms[i]),
                ..Ticket::default()
            };
            (froms[i], froms.get(i + 1).copied(), ticket)
        })
        .collect()
}

fn step() -> impl Strategy<Value = Step> {
    (
        1i64..600,
        any::<bool>(),
        0usize..3,
        0usize..4,
        prop::option::of(-3000i64..3000),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn open_count_and_sla_at_t_equal_the_backlog_at_t(
        tickets in prop::collection::vec(prop::collection::vec(step(), 1..6), 1..12),
        at in 0.0f64..1.0,
        clusters in prop::sample::subsequence(vec!["karen", "Westlands", "Rift"], 0..=2),
        statuses in prop::sample::subsequence(STATUSES.to_vec(), 0..=2),
    ) {
        let versions: Vec<_> = tickets.iter().enumerate().flat_map(|(i, s)| history(i, s)).collect();
        let capture = versions.iter().map(|v| v.0).min().unwrap();
        let until = versions.iter().map(|v| v.0).max().unwrap();
        prop_assume!(capture < until);
        // An instant in [C, H), on the minute grid (so SLA thresholds are hit exactly).
        let minutes = ((until - capture).num_minutes() as f64 * at) as i64;
        let t = capture + Duration::minutes(minutes);
        let span = HistorySpan { capture_started_at: Some(capture), history_until: Some(until) };
        let replay = Replay::at(t, span);
        prop_assert_eq!(replay.mode, ReplayMode::Recorded);
        let filters = Filters::new(
            clusters.into_iter().map(String::from),
            statuses.into_iter().map(String::from),
        ).unwrap();

        let valid: Vec<Ticket> = versions
            .iter()
            .filter(|(from, to, _)| *from <= t && to.is_none_or(|to| t < to))
            .map(|v| v.2.clone())
            .collect();
        let window = Window::around(WindowKind::Week, t);
        let request = DashboardRequest { window, filters: filters.clone(), as_of_given: true };
        let rules = Rules { sla_target_hours: 24.0, stale_after: Duration::hours(3) };
        let freshness = Freshness::at(&ImportState::default(), t, rules.stale_after);
        let rows = replay::rows(valid.into(), replay);
        let payload = compute(rows, &request, freshness, &rules);

        let as_backlog: Vec<Version> = versions
            .iter()
            .map(|(from, to, v)| Version {
                ticket_id: v.ticket_id.to_string(),
                valid_from: *from,
                valid_to: *to,
                is_actionable: v.is_open(),
                cluster: v.cluster.as_deref().map(str::to_owned),
                normalized_status: v.normalized_status.as_deref().map(str::to_owned),
                start: v.created_at_service,
            })
            .collect();
        let bucket = Bucket { t: t - Duration::hours(1), end: t };
        let point = &backlog::compute(&as_backlog, &[bucket], Some(capture), &filters, 24.0)[0];
        let m = &payload.metrics;
        let n = |x: u64| Some(x as i64);
        prop_assert_eq!(point.open, n(m.open_count));
        prop_assert_eq!(point.within, n(m.sla.open.within));
        prop_assert_eq!(point.at_risk, n(m.sla.open.at_risk));
        prop_assert_eq!(point.breached, n(m.sla.open.breached));
        prop_assert_eq!(point.unknown, n(m.sla.open.unknown));
        // The closed set is the versions' closings in the window, as known at t.
        let closed = payload.closed().filter(|(c, _)| c.closed_at.is_some_and(|c| c > t)).count();
        prop_assert_eq!(closed, 0);
    }
}
