//! The metrics of a handmade fixture, worked out by hand (see the comments) and written
//! here as numbers. as_of = Tue 2026-06-16 10:00 EAT, window = week [Mon 15th, Mon 22nd),
//! SLA target 24 h.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::freshness::{Freshness, ImportState};
use super::recent::Recent;
use super::render::RecordedFeatures;
use super::replay::{HistorySpan, Replay};
use super::{compute, render, Rows, Rules, Ticket, WindowRows};
use crate::params::parse;

fn eat(s: &str) -> Option<DateTime<Utc>> {
    Some(
        DateTime::parse_from_rfc3339(&format!("{s}+03:00"))
            .unwrap()
            .with_timezone(&Utc),
    )
}

#[allow(clippy::too_many_arguments)]
fn t(
    id: &str,
    actionable: bool,
    status: &str,
    cluster: Option<&str>,
    created: Option<&str>,
    first_seen: Option<&str>,
    closed: Option<&str>,
    sla: Option<&str>,
    mttr: Option<i32>,
) -> Ticket {
    Ticket {
        ticket_id: id.into(),
        normalized_status: Some(status.into()),
        cluster: cluster.map(Into::into),
        created_at_service: created.and_then(eat),
        first_seen_at: first_seen.and_then(eat),
        closed_at: closed.and_then(eat),
        sla_status: sla.map(Into::into),
        mttr,
        is_actionable: Some(actionable),
        ..Ticket::default()
    }
}

fn fixture() -> Vec<Ticket> {
    let mut all = tickets();
    // T01 has a point, from the feed.
    all[0].latitude = Some(-1.2676);
    all[0].longitude = Some(36.8108);
    all[0].geo_source = Some("feed".into());
    all
}

fn tickets() -> Vec<Ticket> {
    let w = Some("Westlands");
    let k = Some("Kilimani");
    vec![
        // Open: 1 h → within; created on the 16th.
        t(
            "T01",
            true,
            "OPEN",
            w,
            Some("2026-06-16T09:00:00"),
            None,
            None,
            Some("Breached"),
            None,
        ),
        // Open: no created_at_service, first seen 20 h ago → at_risk.
        t(
            "T02",
            true,
            "IN_PROGRESS",
            w,
            None,
            Some("2026-06-15T14:00:00"),
            None,
            None,
            None,
        ),
        // Open: 48 h → breached; created before the window.
        t(
            "T03",
            true,
            "PENDING",
            k,
            Some("2026-06-14T10:00:00"),
            None,
            None,
            None,
            None,
        ),
        // Open: no start at all → unknown; no cluster.
        t("T04", true, "OPEN", None, None, None, None, None, None),
        // Open: created after as_of → 0 h, within; created on the 16th.
        t(
            "T05",
            true,
            "OPEN",
            k,
            Some("2026-06-16T10:30:00"),
            None,
            None,
            None,
            None,
        ),
        // In both sets (inconsistent): open 4 h within; closed on the 16th, Met, 125 min.
        t(
            "T06",
            true,
            "RESOLVED",
            w,
            Some("2026-06-16T06:00:00"),
            None,
            Some("2026-06-16T08:00:00"),
            Some("Met"),
            Some(125),
        ),
        // Closed at the window's first instant (included), Breached, 1500 min.
        t(
            "T07",
            false,
            "CLOSED",
            w,
            Some("2026-06-13T10:00:00"),
            None,
            Some("2026-06-15T00:00:00"),
            Some("Breached"),
            Some(1500),
        ),
        // Closed one second before the window: excluded.
        t(
            "T08",
            false,
            "CLOSED",
            Some("Karen"),
            None,
            None,
            Some("2026-06-14T23:59:59"),
            Some("Met"),
            Some(30),
        ),
        // Closed in the window's last second; " met " maps to met; no mttr.
        t(
            "T09",
            false,
            "RESOLVED",
            Some("Karen"),
            None,
            None,
            Some("2026-06-21T23:59:59"),
            Some(" met "),
            None,
        ),
        // Closed at the window's end (exclusive): excluded.
        t(
            "T10",
            false,
            "CANCELLED",
            None,
            None,
            None,
            Some("2026-06-22T00:00:00"),
            None,
            None,
        ),
        // Closed on the 17th, "N/A" → unknown, 60 min; created on the 17th.
        t(
            "T11",
            false,
            "CLOSED",
            k,
            Some("2026-06-17T08:00:00"),
            None,
            Some("2026-06-17T12:00:00"),
            Some("N/A"),
            Some(60),
        ),
        // In neither set, but created in the window (the 18th): counts in daily only.
        t(
            "T12",
            false,
            "CLOSED",
            Some("Karen"),
            Some("2026-06-18T09:00:00"),
            None,
            Some("2026-05-01T09:00:00"),
            None,
            None,
        ),
        // "kilimani" is a cluster of its own (names compare as stored); created 23:30 EAT
        // on the 15th (20:30 UTC); closed on the 16th, Breached, 62 min.
        t(
            "T13",
            false,
            "RESOLVED",
            Some("kilimani"),
            Some("2026-06-15T23:30:00"),
            None,
            Some("2026-06-16T09:59:00"),
            Some("Breached"),
            Some(62),
        ),
        // Open: exactly 18 h → at_risk; created on the 15th.
        t(
            "T14",
            true,
            "OPEN",
            w,
            Some("2026-06-15T16:00:00"),
            None,
            None,
            None,
            None,
        ),
    ]
}

fn rules() -> Rules {
    Rules {
        sla_target_hours: 24.0,
        stale_after: Duration::hours(3),
    }
}

fn payload(query: &str) -> serde_json::Value {
    let req = parse(query, eat("2026-06-16T10:00:00").unwrap()).unwrap();
    let fresh = Freshness::at(
        &ImportState::default(),
        req.window.as_of,
        Duration::hours(3),
    );
    let all = fixture();
    let heads = render::open_heads(&all);
    // The window's rows as queried, and as the in-memory recent tickets hold them (every
    // ticket closed or created since a date before the fixture's).
    let recent = Recent::new(
        eat("2026-01-01T00:00:00").unwrap(),
        all.iter()
            .filter(|t| t.closed_at.is_some() || t.created_at_service.is_some())
            .cloned()
            .collect(),
        HashMap::new(),
    );
    let sources = [all.clone().into(), WindowRows::Recent(Arc::new(recent))];
    let mut typed = Vec::new();
    for window in sources {
        let rows = Rows {
            open: all.clone().into(),
            window,
            replay: Replay::at(req.window.as_of, HistorySpan::default()),
        };
        let computed = compute(rows, &req, fresh.clone(), &rules());
        // The fast writer and serde agree to the byte, whichever the window's rows, with
        // the open features' heads written ahead (live) or per version (recorded: written,
        // then reused).
        typed = serde_json::to_vec(&computed.to_dashboard()).unwrap();
        let recorded = RecordedFeatures::default();
        let written = || {
            let closed = recorded.closed(&computed);
            render::write_json(&computed, &recorded.open_heads(&computed), Some(&closed))
        };
        let fast = [
            render::write_json(&computed, &heads, None).unwrap(),
            written().unwrap(),
            written().unwrap(),
        ];
        for (how, fast) in ["live", "recorded", "recorded again"].iter().zip(fast) {
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(typed.clone()).unwrap(),
                "heads: {how}"
            );
        }
    }
    serde_json::from_slice(&typed).unwrap()
}

#[test]
fn the_week_metrics_match_the_hand_computed_numbers() {
    let p = payload("window=week");
    let m = &p["metrics"];
    assert_eq!(m["open_count"], 7); // T01 T02 T03 T04 T05 T06 T14
    assert_eq!(m["closed_count"], 5); // T06 T07 T09 T11 T13
    assert_eq!(m["inconsistent"], 1); // T06
    assert_eq!(
        m["sla"],
        json!({
            "open": {"within": 3, "at_risk": 2, "breached": 1, "unknown": 1},
            "closed": {"met": 2, "breached": 2, "unknown": 1}
        })
    );
    assert_eq!(
        m["by_status"],
        json!({
            "open": {"IN_PROGRESS": 1, "OPEN": 4, "PENDING": 1, "RESOLVED": 1},
            "closed": {"CLOSED": 2, "RESOLVED": 3}
        })
    );
    assert_eq!(
        m["by_cluster"],
        json!([
            {"cluster": "Westlands", "open": 4, "closed": 2, "open_breached": 0},
            {"cluster": "Kilimani", "open": 2, "closed": 1, "open_breached": 1},
            {"cluster": null, "open": 1, "closed": 0, "open_breached": 0},
            {"cluster": "Karen", "open": 0, "closed": 1, "open_breached": 0},
            {"cluster": "kilimani", "open": 0, "closed": 1, "open_breached": 0}
        ])
    );
    assert_eq!(m["closure_rate"], 0.4167); // 5 / 12 = 0.41666…
    assert_eq!(m["avg_mttr_minutes"], 436.8); // (125 + 1500 + 60 + 62) / 4 = 436.75
    assert_eq!(
        m["daily"],
        json!([
            {"date": "2026-06-15", "created": 2, "closed": 1},
            {"date": "2026-06-16", "created": 3, "closed": 2},
            {"date": "2026-06-17", "created": 1, "closed": 1},
            {"date": "2026-06-18", "created": 1, "closed": 0},
            {"date": "2026-06-19", "created": 0, "closed": 0},
            {"date": "2026-06-20", "created": 0, "closed": 0},
            {"date": "2026-06-21", "created": 0, "closed": 1}
        ])
    );
}

#[test]
fn features_carry_the_derived_sla_and_are_ordered_by_id() {
    let p = payload("window=week");
    let open = p["open"]["features"].as_array().unwrap();
    let summary: Vec<(String, serde_json::Value, String)> = open
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["properties"]["hours_open"].clone(),
                f["properties"]["sla_state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("T01".into(), json!(1.0), "within".into()),
            ("T02".into(), json!(20.0), "at_risk".into()),
            ("T03".into(), json!(48.0), "breached".into()),
            ("T04".into(), json!(null), "unknown".into()),
            ("T05".into(), json!(0.0), "within".into()),
            ("T06".into(), json!(4.0), "within".into()),
            ("T14".into(), json!(18.0), "at_risk".into()),
        ]
    );
    // T01's stale source "Breached" is ignored for open tickets.
    assert_eq!(
        open[0]["geometry"],
        json!({"type": "Point", "coordinates": [36.8108, -1.2676]})
    );
    assert_eq!(open[0]["properties"]["geo_source"], "feed");
    assert_eq!(open[1]["geometry"], json!(null));
    assert_eq!(open[0]["type"], "Feature");
    assert_eq!(p["open"]["type"], "FeatureCollection");
    let closed: Vec<(&str, &str, serde_json::Value)> = p["closed"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap(),
                f["properties"]["sla_status"].as_str().unwrap(),
                f["properties"]["mttr_minutes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        closed,
        vec![
            ("T06", "met", json!(125)),
            ("T07", "breached", json!(1500)),
            ("T09", "met", json!(null)),
            ("T11", "unknown", json!(60)),
            ("T13", "breached", json!(62)),
        ]
    );
    assert_eq!(
        p["closed"]["features"][1]["properties"]["closed_at"],
        "2026-06-15T00:00:00+03:00"
    );
    assert_eq!(
        p["window"],
        json!({
            "kind": "week", "from": "2026-06-15T00:00:00+03:00", "to": "2026-06-22T00:00:00+03:00",
            "tz": "Africa/Nairobi", "as_of": "2026-06-16T10:00:00+03:00"
        })
    );
}

#[test]
fn filters_apply_to_both_sets_and_every_metric() {
    let p = payload("window=week&cluster=westlands,KAREN");
    assert_eq!(
        p["filters"],
        json!({"cluster": ["KAREN", "westlands"], "status": []})
    );
    let m = &p["metrics"];
    assert_eq!(
        (m["open_count"].as_u64(), m["closed_count"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(
        m["daily"][0],
        json!({"date": "2026-06-15", "created": 1, "closed": 1})
    ); // T14; T07
    assert_eq!(m["avg_mttr_minutes"], 812.5); // (125 + 1500) / 2
    let p = payload("window=week&status=open");
    assert_eq!(
        (
            p["metrics"]["open_count"].as_u64(),
            p["metrics"]["closed_count"].as_u64()
        ),
        (Some(4), Some(0))
    );
    assert_eq!(p["metrics"]["closure_rate"], 0.0);
    assert_eq!(p["metrics"]["avg_mttr_minutes"], json!(null));
    let p = payload("window=week&cluster=Nowhere");
    assert_eq!(p["metrics"]["closure_rate"], json!(null));
    assert_eq!(p["metrics"]["by_cluster"], json!([]));
}

#[test]
fn today_and_a_past_as_of_move_the_window() {
    let p = payload("window=today");
    assert_eq!(p["metrics"]["closed_count"], 2); // T06, T13 on the 16th
                                                 // Replaying the 15th at noon: the window is the 15th; T03 has been open 26 h.
    let p = payload("window=today&as_of=2026-06-15T12:00:00%2B03:00");
    assert_eq!(p["window"]["from"], "2026-06-15T00:00:00+03:00");
    assert_eq!(p["metrics"]["closed_count"], 1); // T07
    assert_eq!(p["metrics"]["sla"]["open"]["breached"], 1); // T03: 26 h
}

#[test]
fn a_recorded_head_is_written_again_for_another_version_of_its_ticket() {
    let req = parse("window=week", eat("2026-06-16T10:00:00").unwrap()).unwrap();
    let fresh = Freshness::at(
        &ImportState::default(),
        req.window.as_of,
        Duration::hours(3),
    );
    let computed = |rows: Vec<Ticket>| {
        let rows = Rows {
            open: rows.clone().into(),
            window: rows.into(),
            replay: Replay::at(req.window.as_of, HistorySpan::default()),
        };
        compute(rows, &req, fresh.clone(), &rules())
    };
    let recorded = RecordedFeatures::default();
    let before = computed(fixture());
    let first = recorded.open_heads(&before);
    let (open, other): (Vec<_>, Vec<_>) =
        (0..first.len()).partition(|&i| before.open_rows()[i].is_open());
    assert_eq!((open.len(), other.is_empty()), (7, false));
    assert!(other.iter().all(|&i| first[i].is_empty()));
    // T01 reassigned: its head is written anew, the others' are the ones already written.
    let mut rows = fixture();
    let t01 = rows.iter().position(|t| t.ticket_id == "T01").unwrap();
    rows[t01].assigned_team = Some("Night shift".into());
    let after = computed(rows);
    let second = recorded.open_heads(&after);
    assert!(second[t01].contains(r#""assigned_team":"Night shift""#));
    assert!(!first[t01].contains("Night shift"));
    for &i in open.iter().filter(|&&i| i != t01) {
        assert!(Arc::ptr_eq(&first[i], &second[i]), "{i}");
    }
    // T09 closed in the week: its closed feature is written anew when its version changes.
    let closed_before = recorded.closed(&before);
    let mut rows = fixture();
    let t09 = rows.iter().position(|t| t.ticket_id == "T09").unwrap();
    rows[t09].owner = Some("Night owl".into());
    let after = computed(rows);
    let (second, closed) = (recorded.open_heads(&after), recorded.closed(&after));
    let at = after
        .closed()
        .position(|(t, _)| t.ticket_id == "T09")
        .unwrap();
    assert!(closed[at].contains(r#""owner":"Night owl""#));
    assert!(!closed_before[at].contains("Night owl"));
    let others = (0..closed.len()).filter(|&i| i != at);
    assert!(others
        .into_iter()
        .all(|i| Arc::ptr_eq(&closed[i], &closed_before[i])));
    let typed = serde_json::to_vec(&after.to_dashboard()).unwrap();
    assert_eq!(
        render::write_json(&after, &second, Some(&closed)).unwrap(),
        typed
    );
}
