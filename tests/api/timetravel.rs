//! Time travel (`timetravel.md`) over a handmade history: the dashboard at a recorded
//! instant, the modes and their boundaries, the backlog invariant through the routes,
//! the ticket timeline, Grafana's `as_of` and the cache.

use serde_json::{json, Value};

use crate::app::{spawn_app_with, spawn_beside, TestApp};
use crate::grafana::{query, query_range, target};
use crate::helpers::{temp_dir, write_file, writer_lock};

const HEAD: &str = "ticket_id,normalized_status,is_actionable,cluster,region,raw_status,assigned_team,created_at_service,closed_at,source_updated_at";

/// Capture starts at 08:00 (INC1, INC2 open in Karen); at 09:00 INC1 closes, INC2 moves
/// to Westlands and team B, INC3 and INC5 appear; at 10:00 (the newest history time)
/// INC4 appears. Each snapshot changes the open count, so `import` sees it served.
const SNAPSHOTS: [(&str, &str); 3] = [
    (
        "2026-06-16T080000.csv",
        "INC1,OPEN,true,Karen,Nairobi,New,Team A,2026-06-15 12:00:00,,\n\
         INC2,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 07:00:00,,\n",
    ),
    (
        "2026-06-16T090000.csv",
        "INC1,CLOSED,false,Karen,Nairobi,Closed,Team A,2026-06-15 12:00:00,2026-06-16 08:50:00,\n\
         INC2,OPEN,true,Westlands,Nairobi,Assigned,Team B,2026-06-16 07:00:00,,\n\
         INC3,OPEN,true,Westlands,Nairobi,New,Team B,2026-06-16 08:30:00,,\n\
         INC5,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 08:45:00,,\n",
    ),
    (
        "2026-06-16T100000.csv",
        "INC1,CLOSED,false,Karen,Nairobi,Closed,Team A,2026-06-15 12:00:00,2026-06-16 08:50:00,\n\
         INC2,OPEN,true,Westlands,Nairobi,Assigned,Team B,2026-06-16 07:00:00,,\n\
         INC3,OPEN,true,Westlands,Nairobi,New,Team B,2026-06-16 08:30:00,,\n\
         INC4,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 09:40:00,,\n\
         INC5,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 08:45:00,,\n",
    ),
];

/// INC1 open throughout; INC7 created at 08:30, cancelled (never actionable, no closing
/// time), recorded at 09:00 in Karen and at 10:00 in Westlands; INC8 and INC9 open.
const CREATED_ONLY: [(&str, &str); 3] = [
    (
        "2026-06-16T080000.csv",
        "INC1,OPEN,true,Karen,Nairobi,New,Team A,2026-06-15 12:00:00,,\n",
    ),
    (
        "2026-06-16T090000.csv",
        "INC1,OPEN,true,Karen,Nairobi,New,Team A,2026-06-15 12:00:00,,\n\
         INC7,CANCELLED,false,Karen,Nairobi,Cancelled,Team A,2026-06-16 08:30:00,,\n\
         INC8,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 08:40:00,,\n",
    ),
    (
        "2026-06-16T100000.csv",
        "INC1,OPEN,true,Karen,Nairobi,New,Team A,2026-06-15 12:00:00,,\n\
         INC7,CANCELLED,false,Westlands,Nairobi,Cancelled,Team B,2026-06-16 08:30:00,,\n\
         INC8,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 08:40:00,,\n\
         INC9,OPEN,true,Westlands,Nairobi,New,Team B,2026-06-16 09:50:00,,\n",
    ),
];

/// The app over the history `SNAPSHOTS` records; its cache keeps entries 10 minutes, so
/// only a data-changed notice can drop one within a test.
async fn history_app() -> TestApp {
    app_over(&SNAPSHOTS).await
}

async fn app_over(snapshots: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_with(&["--cache-ttl-secs", "600"]).await;
    let dir = temp_dir();
    for (name, rows) in snapshots {
        let path = write_file(dir.path(), name, &format!("{HEAD}\n{rows}"));
        app.import(&path).await;
    }
    app
}

/// The dashboard at `as_of` (`HH:MM:SS` on 2026-06-16 EAT, or a full instant) with
/// extra parameters.
async fn at(app: &TestApp, as_of: &str, extra: &str) -> Value {
    let as_of = match as_of.len() {
        8 => format!("2026-06-16T{as_of}+03:00"),
        _ => as_of.to_owned(),
    };
    let q = format!(
        "/api/v1/inc/dashboard?window=week&as_of={}{extra}",
        as_of.replace('+', "%2B")
    );
    let (status, body) = app.get_json(&q).await;
    assert_eq!(status, 200, "{q}: {body}");
    body
}

fn open_ids(body: &Value) -> Vec<&str> {
    body["open"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect()
}

fn feature<'a>(body: &'a Value, set: &str, id: &str) -> &'a Value {
    body[set]["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {set}"))
}

#[tokio::test]
async fn the_dashboard_at_a_recorded_instant_shows_the_tickets_of_the_time() {
    let app = history_app().await;
    let body = at(&app, "08:40:00", "").await;
    assert_eq!(
        body["replay"],
        json!({"mode": "recorded", "capture_started_at": "2026-06-16T08:00:00+03:00",
               "history_until": "2026-06-16T10:00:00+03:00"})
    );
    // INC3 (created 08:30, first recorded at 09:00) does not exist yet; INC1, closed
    // now, was open; INC2 was still Karen's and team A's.
    assert_eq!(open_ids(&body), ["INC1", "INC2"]);
    let inc2 = &feature(&body, "open", "INC2")["properties"];
    assert_eq!(inc2["cluster"], "Karen");
    assert_eq!(inc2["assigned_team"], "Team A");
    // Fields that are not tracked are the current row's.
    assert_eq!(inc2["raw_status"], "ASSIGNED");
    // INC1 created 12:00 the day before: 20.7 h open at 08:40, at risk.
    let inc1 = &feature(&body, "open", "INC1")["properties"];
    assert_eq!(
        (&inc1["hours_open"], &inc1["sla_state"]),
        (&json!(20.7), &json!("at_risk"))
    );
    let m = &body["metrics"];
    assert_eq!(
        (m["open_count"].clone(), m["closed_count"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(
        m["by_cluster"],
        json!([{"cluster": "Karen", "open": 2, "closed": 0, "open_breached": 0}])
    );
    // The week's created series counts only the tickets that existed at 08:40.
    let created: u64 = m["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["created"].as_u64().unwrap())
        .sum();
    assert_eq!(
        created, 2,
        "INC1 (Monday 15th) and INC2, not INC3 or INC5: {m}"
    );

    // At 09:30 INC1 is closed (in the week), INC2 is in Westlands with team B.
    let body = at(&app, "09:30:00", "").await;
    assert_eq!(open_ids(&body), ["INC2", "INC3", "INC5"]);
    assert_eq!(
        feature(&body, "closed", "INC1")["properties"]["closed_at"],
        "2026-06-16T08:50:00+03:00"
    );
    assert_eq!(
        feature(&body, "open", "INC2")["properties"]["assigned_team"],
        "Team B"
    );
    // The cluster filter matches the cluster of the time.
    assert_eq!(
        open_ids(&at(&app, "08:40:00", "&cluster=westlands").await),
        Vec::<&str>::new()
    );
    assert_eq!(
        open_ids(&at(&app, "08:40:00", "&cluster=Karen").await),
        ["INC1", "INC2"]
    );
    assert_eq!(
        open_ids(&at(&app, "09:30:00", "&cluster=westlands").await),
        ["INC2", "INC3"]
    );
    let karen = at(&app, "09:30:00", "&cluster=karen").await;
    assert_eq!(open_ids(&karen), ["INC5"]);
    assert_eq!(karen["metrics"]["closed_count"], 1);
}

/// The recorded query runs as a `COPY`, its filter values spelled as literals: a cluster
/// with a quote, a backslash and non-ASCII letters matches as text (case-folded), and a
/// value holding SQL is only a value that matches nothing.
#[tokio::test]
async fn recorded_filter_values_with_quotes_and_backslashes_are_only_text() {
    let app = spawn_app_with(&["--cache-ttl-secs", "600"]).await;
    let dir = temp_dir();
    let rows = "INC1,OPEN,true,O'Brien \\ Ü,Nairobi,New,Team A,2026-06-15 12:00:00,,\n\
                INC2,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 07:00:00,,\n";
    for (name, extra) in [
        ("2026-06-16T080000.csv", ""),
        (
            "2026-06-16T090000.csv",
            "INC3,OPEN,true,Karen,Nairobi,New,Team A,2026-06-16 08:30:00,,\n",
        ),
    ] {
        let csv = format!("{HEAD}\n{rows}{extra}");
        app.import(&write_file(dir.path(), name, &csv)).await;
    }
    // o'brien \ ü, folded; then x'); DROP TABLE tickets.inc; --
    let quoted = at(&app, "08:30:00", "&cluster=o%27brien%20%5C%20%C3%BC").await;
    assert_eq!(quoted["replay"]["mode"], "recorded");
    assert_eq!(open_ids(&quoted), ["INC1"]);
    assert_eq!(
        feature(&quoted, "open", "INC1")["properties"]["cluster"],
        "O'Brien \\ Ü"
    );
    let sql = "&cluster=x%27%29%3B%20DROP%20TABLE%20tickets.inc%3B%20--";
    assert_eq!(
        open_ids(&at(&app, "08:30:00", sql).await),
        Vec::<&str>::new()
    );
    assert_eq!(open_ids(&at(&app, "08:30:00", "").await), ["INC1", "INC2"]);
    assert_eq!(
        open_ids(&at(&app, "09:30:00", "").await),
        ["INC1", "INC2", "INC3"]
    );
}

/// A ticket created in the week that is neither open nor closed at `t` (cancelled
/// without a closing time) counts in the daily series, under its cluster and status of
/// the time: only the created branch of the recorded query returns it.
#[tokio::test]
async fn a_ticket_only_created_in_the_window_counts_with_its_fields_of_the_time() {
    let app = app_over(&CREATED_ONLY).await;
    let created = |body: &Value| -> u64 {
        body["metrics"]["daily"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["created"].as_u64().unwrap())
            .sum()
    };
    let body = at(&app, "09:30:00", "").await;
    assert_eq!(body["replay"]["mode"], "recorded");
    assert_eq!(open_ids(&body), ["INC1", "INC8"]);
    assert_eq!(body["metrics"]["closed_count"], 0);
    assert_eq!(
        created(&body),
        3,
        "INC1, INC7 and INC8: {}",
        body["metrics"]
    );
    // INC7 was Karen's at 09:30 (Westlands' now).
    assert_eq!(created(&at(&app, "09:30:00", "&cluster=karen").await), 3);
    assert_eq!(
        created(&at(&app, "09:30:00", "&cluster=westlands").await),
        0
    );
    let cancelled = at(&app, "09:30:00", "&status=CANCELLED").await;
    assert_eq!(open_ids(&cancelled), Vec::<&str>::new());
    assert_eq!(created(&cancelled), 1);
    // Before it was recorded (08:40), INC7 did not exist.
    assert_eq!(created(&at(&app, "08:40:00", "").await), 1);
}

/// The recent history held in memory answers as the history queried: at every ten
/// minutes around both handmade histories, in each window, with and without filters,
/// the payloads of an app holding the last 192 hours (the default), one holding the
/// last hour and one holding none are the same, and the metric names the path taken.
#[tokio::test]
async fn recorded_payloads_from_memory_equal_the_queried_ones() {
    let queries = [
        "window=today",
        "window=week",
        "window=month",
        "window=week&cluster=karen",
        "window=week&cluster=Westlands&cluster=karen",
        "window=month&status=CLOSED&status=CANCELLED",
        "window=custom&from=2026-06-16T08:30:00%2B03:00&to=2026-06-16T09:30:00%2B03:00",
        // Starts before the earliest month window of any horizon: always queried.
        "window=custom&from=2026-05-31&to=2026-06-17",
    ];
    for snapshots in [&SNAPSHOTS, &CREATED_ONLY] {
        let all = app_over(snapshots).await;
        let hour = spawn_beside(&all, &["--recorded-memory-hours", "1"]).await;
        let none = spawn_beside(&all, &["--recorded-memory-hours", "0"]).await;
        let before = [held(&all).await, held(&hour).await];
        let mut recorded = 0;
        for minutes in (-10..=130).step_by(10) {
            let t = chrono::DateTime::parse_from_rfc3339("2026-06-16T08:00:00+03:00").unwrap()
                + chrono::Duration::minutes(minutes);
            for query in queries {
                let q = format!(
                    "/api/v1/inc/dashboard?{query}&as_of={}",
                    t.to_rfc3339().replace('+', "%2B")
                );
                let (_, want) = none.get_json(&q).await;
                assert!(want["replay"].is_object(), "{q}: {want}");
                recorded += u32::from(want["replay"]["mode"] == "recorded");
                for app in [&all, &hour] {
                    let (status, got) = app.get_json(&q).await;
                    assert_eq!((status, &got), (200, &want), "{q}");
                }
            }
        }
        // 08:00 to 09:50, each query; from 09:00 the hour's app holds it, but the window
        // from 31 May.
        assert_eq!(recorded, 12 * queries.len() as u32);
        let n = queries.len() as f64;
        let since = |app, (memory, database): (f64, f64)| async move {
            let (m, d) = recorded_reads(app).await;
            (m - memory, d - database)
        };
        assert_eq!(since(&all, before[0]).await, (12.0 * (n - 1.0), 12.0));
        let hour_reads = (6.0 * (n - 1.0), 6.0 * (n - 1.0) + 12.0);
        assert_eq!(since(&hour, before[1]).await, hour_reads);
        assert_eq!(recorded_reads(&none).await, (0.0, 12.0 * n));
        // The teams table reads the same rows.
        for (as_of, by) in [("08%3A55", "team"), ("09%3A35", "owner")] {
            let q = format!(
                "/api/v1/inc/teams?window=week&by={by}&as_of=2026-06-16T{as_of}%3A00%2B03%3A00"
            );
            let (_, want) = none.get_json(&q).await;
            assert!(want["rows"].is_array(), "{q}: {want}");
            for app in [&all, &hour] {
                assert_eq!(app.get_json(&q).await, (200, want.clone()), "{q}");
            }
        }
    }
}

/// The recent history holds every version of the horizon a payload can read, and a
/// horizon holding more versions than the bound is not held (its instants are queried).
#[tokio::test]
async fn a_recent_history_past_its_bound_is_not_held() {
    use fleettickets::dashboard::versions::Horizon;
    use fleettickets::read::{places::Places, versions};
    let app = history_app().await;
    let until = chrono::DateTime::parse_from_rfc3339("2026-06-16T10:00:00+03:00").unwrap();
    let horizon = Horizon::before(until.to_utc(), 192).unwrap();
    let pool = &app.db.pool;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inc_history")
        .fetch_one(pool)
        .await
        .unwrap();
    // INC1 and INC2 at 08:00, each again at 09:00 with INC3 and INC5, INC4 at 10:00.
    assert_eq!(all, 7);
    let places = Places::default();
    let held = versions::recent(pool, horizon, &places, 7).await.unwrap();
    assert_eq!(held.map(|h| h.len()), Some(7));
    let over = versions::recent(pool, horizon, &places, 6).await.unwrap();
    assert!(over.is_none());
}

/// Waits until `app` answers recorded misses in its horizon from memory (the first one
/// is queried, and the recent history read in the background): a miss at 09:59 each
/// 20 ms, each at its own second. Returns the recorded reads then.
async fn held(app: &TestApp) -> (f64, f64) {
    for second in 0..60 {
        let q = format!("/api/v1/inc/dashboard?as_of=2026-06-16T09%3A59%3A{second:02}%2B03%3A00");
        assert_eq!(app.get(&q).await.status(), 200, "{q}");
        let reads = recorded_reads(app).await;
        if reads.0 > 0.0 {
            return reads;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the recent history was not read in time");
}

/// Recorded misses answered from memory and from the database.
async fn recorded_reads(app: &TestApp) -> (f64, f64) {
    let metric = "fleettickets_dashboard_recorded_reads_total{outcome=";
    (
        app.metric(&format!("{metric}\"memory\"}}")).await,
        app.metric(&format!("{metric}\"database\"}}")).await,
    )
}

#[tokio::test]
async fn capture_start_and_history_until_are_exact_boundaries() {
    let app = history_app().await;
    // Before capture start: today's tickets with the clock set back, and it says so.
    let before = at(&app, "07:59:59", "").await;
    assert_eq!(before["replay"]["mode"], "clock");
    assert_eq!(open_ids(&before), ["INC2", "INC3", "INC4", "INC5"]);
    // The old behaviour: INC4, created at 09:40, is "open" at 0 hours, within SLA.
    let inc4 = &feature(&before, "open", "INC4")["properties"];
    assert_eq!(
        (&inc4["hours_open"], &inc4["sla_state"]),
        (&json!(0.0), &json!("within"))
    );
    assert_eq!(
        feature(&before, "open", "INC2")["properties"]["cluster"],
        "Westlands"
    );
    let start = at(&app, "08:00:00", "").await;
    assert_eq!(start["replay"]["mode"], "recorded");
    assert_eq!(open_ids(&start), ["INC1", "INC2"]);
    let last = at(&app, "09:59:59", "").await;
    assert_eq!(last["replay"]["mode"], "recorded");
    assert_eq!(open_ids(&last), ["INC2", "INC3", "INC5"]);
    // At the newest history time and after it (the future included): live, the current rows.
    for as_of in ["10:00:00", "2030-01-01T00:00:00+03:00"] {
        let live = at(&app, as_of, "").await;
        assert_eq!(live["replay"]["mode"], "live", "{as_of}");
        assert_eq!(open_ids(&live), ["INC2", "INC3", "INC4", "INC5"]);
    }
    // Live without as_of: the current payload, with the same replay object.
    let (_, now) = app.get_json("/api/v1/inc/dashboard").await;
    assert_eq!(now["replay"]["mode"], "live");
    assert_eq!(now["replay"]["history_until"], "2026-06-16T10:00:00+03:00");
    assert_eq!(open_ids(&now), ["INC2", "INC3", "INC4", "INC5"]);
}

#[tokio::test]
async fn the_recorded_open_count_and_sla_equal_the_backlog_at_every_instant() {
    let app = history_app().await;
    for minutes in (0..=150).step_by(10) {
        let t = chrono::DateTime::parse_from_rfc3339("2026-06-16T08:00:00+03:00").unwrap()
            + chrono::Duration::minutes(minutes);
        let from = t - chrono::Duration::hours(1);
        let enc = |d: chrono::DateTime<chrono::FixedOffset>| d.to_rfc3339().replace('+', "%2B");
        for filter in ["", "&cluster=Karen", "&status=PENDING"] {
            let (_, backlog) = app
                .get_json(&format!(
                    "/api/v1/inc/backlog?from={}&to={}{filter}",
                    enc(from),
                    enc(t)
                ))
                .await;
            let point = backlog["points"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .clone();
            let body = at(&app, &t.to_rfc3339(), filter).await;
            let sla = &body["metrics"]["sla"]["open"];
            assert_eq!(
                (
                    &point["open"],
                    &point["within"],
                    &point["at_risk"],
                    &point["breached"],
                    &point["unknown"]
                ),
                (
                    &body["metrics"]["open_count"],
                    &sla["within"],
                    &sla["at_risk"],
                    &sla["breached"],
                    &sla["unknown"]
                ),
                "at {t}{filter}"
            );
        }
    }
}

#[tokio::test]
async fn recorded_answers_are_cached_revalidated_and_dropped_when_the_data_changes() {
    let app = history_app().await;
    let q = "/api/v1/inc/dashboard?as_of=2026-06-16T08:40:00%2B03:00";
    let first = app.get(q).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let hits = app
        .metric("fleettickets_dashboard_cache_total{outcome=\"hit\"}")
        .await;
    let again = app.get_with(q, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    // At least this request's hit (a background reader of the payload may add its own).
    assert!(
        app.metric("fleettickets_dashboard_cache_total{outcome=\"hit\"}")
            .await
            >= hits + 1.0,
        "the revalidation was served from the cache"
    );
    let gz = app.get_with(q, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    // A change (here an import; backfill and retention send the same notice) drops it:
    // the entry is rebuilt (its `history_until` is the new import's time; the cache's
    // 10-minute TTL would have kept the old one), and the recorded state is unchanged.
    let dir = temp_dir();
    let rows = format!(
        "{}INC6,OPEN,true,Karen,Nairobi,New,Team A,,,\n",
        SNAPSHOTS[2].1
    );
    app.import(&write_file(
        dir.path(),
        "2026-06-16T110000.csv",
        &format!("{HEAD}\n{rows}"),
    ))
    .await;
    let body: Value = app.get(q).await.json().await.unwrap();
    assert_eq!(body["replay"]["history_until"], "2026-06-16T11:00:00+03:00");
    assert_eq!(open_ids(&body), ["INC1", "INC2"]);
}

#[tokio::test]
async fn the_timeline_lists_each_version_with_what_changed() {
    let app = history_app().await;
    let (status, body) = app.get_json("/api/v1/inc/tickets/INC2/history").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ticket_id"], "INC2");
    assert_eq!(body["capture_started_at"], "2026-06-16T08:00:00+03:00");
    let versions = body["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["valid_from"], "2026-06-16T08:00:00+03:00");
    assert_eq!(versions[0]["valid_to"], "2026-06-16T09:00:00+03:00");
    // All the tracked fields for the first version.
    let tracked = fleettickets::ticket::fields::FIELDS
        .iter()
        .filter(|f| f.tracked);
    assert_eq!(
        versions[0]["changed"].as_array().unwrap().len(),
        tracked.count()
    );
    assert_eq!(versions[1]["changed"], json!(["assigned_team", "cluster"]));
    assert_eq!(versions[1]["valid_to"], Value::Null);
    assert_eq!(versions[1]["fields"]["assigned_team"], "Team B");
    assert!(versions[1]["import_id"].is_i64());
    let (_, inc1) = app.get_json("/api/v1/inc/tickets/INC1/history").await;
    assert_eq!(
        inc1["versions"][1]["changed"],
        json!(["closed_at", "is_actionable", "normalized_status"])
    );
    assert_eq!(
        inc1["versions"][1]["fields"]["closed_at"],
        "2026-06-16T08:50:00+03:00"
    );
    // Unknown ticket, bad id.
    let (status, body) = app.get_json("/api/v1/inc/tickets/INC404/history").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not found")),
        "{body}"
    );
    let (status, body) = app.get_json("/api/v1/inc/tickets/INC%01/history").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .get_json(&format!("/api/v1/inc/tickets/{}/history", "X".repeat(1025)))
        .await;
    assert_eq!(status, 400);
    // ETag, 304 and compression as the other read routes.
    let q = "/api/v1/inc/tickets/INC2/history";
    let br = app.get_with(q, &[("accept-encoding", "br")]).await;
    assert_eq!(br.headers()["content-encoding"], "br");
    let etag = br.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.get_with(q, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    let br = app.get_with(q, &[("accept-encoding", "br")]).await;
    assert_eq!(br.headers()["content-encoding"], "br");
}

#[tokio::test]
async fn grafana_ticket_metrics_are_taken_at_the_end_of_a_past_range() {
    let app = history_app().await;
    let targets = json!([
        target("A", "open_count", json!({})),
        target("B", "open_tickets", json!({"format": "table"})),
    ]);
    let frames = query(
        &app,
        &query_range(
            targets.clone(),
            "2026-06-15T21:00:00.000Z",
            "2026-06-16T05:40:00.000Z",
        ),
    )
    .await;
    let single = |frames: &[Value]| {
        frames.iter().find(|f| f["refId"] == "A").unwrap()["datapoints"][0][0].clone()
    };
    // 08:40 EAT: the backlog of that moment, as the route gives it at as_of = range.to.
    let route = at(&app, "08:40:00", "").await;
    assert_eq!(single(&frames), route["metrics"]["open_count"]);
    assert_eq!(single(&frames), json!(2));
    let table = frames.iter().find(|f| f["refId"] == "B").unwrap();
    assert_eq!(table["rows"].as_array().unwrap().len(), 2, "{table}");
    // A range that ends in the future: now, the live tickets.
    let frames = query(
        &app,
        &query_range(
            targets,
            "2026-06-15T21:00:00.000Z",
            "2027-01-01T00:00:00.000Z",
        ),
    )
    .await;
    assert_eq!(single(&frames), json!(4));
}

#[tokio::test]
async fn a_retention_run_drops_the_recorded_answers_it_changed() {
    let app = history_app().await;
    let q = "/api/v1/inc/dashboard?window=week&as_of=2026-06-16T08:40:00%2B03:00";
    let (_, before) = app.get_json(q).await;
    assert_eq!(before["replay"]["mode"], "recorded");
    assert_eq!(open_ids(&before), ["INC1", "INC2"]);
    // Keeping one day at 09:30 the next day drops the versions that ended at 09:00:
    // capture start moves to 09:00, so 08:40 is before it.
    let lock = writer_lock(&app.db.pool).await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-06-17T09:30:00+03:00").unwrap();
    let dropped = fleettickets::history::retention::apply(&app.db.pool, &lock, 1, at.to_utc())
        .await
        .unwrap();
    lock.release().await;
    assert_eq!(dropped, 2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let after = loop {
        let (_, body) = app.get_json(q).await;
        if body["replay"]["mode"] != "recorded" {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the recorded answer was still served 10 s after the retention run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(after["replay"]["mode"], "clock");
    assert_eq!(
        after["replay"]["capture_started_at"],
        "2026-06-16T09:00:00+03:00"
    );
    assert_eq!(open_ids(&after), ["INC2", "INC3", "INC4", "INC5"]);
}

/// The recorded query runs without a transaction of its own for `SET LOCAL jit`: every
/// pool connection (the primary's and a separate read pool's) has JIT off, and keeps the
/// read path's statement timeout.
#[tokio::test]
async fn every_pool_connection_runs_without_jit() {
    let db = crate::helpers::test_db().await;
    let mut config = fleettickets::config::DatabaseConfig::new(db.url.clone());
    let primary = fleettickets::db::connect(&config).await.unwrap();
    config.database_read_url = Some(db.url.clone().into());
    let read = fleettickets::db::connect_read(&config, &primary).unwrap();
    for pool in [&primary, &read] {
        let (jit, timeout): (String, String) =
            sqlx::query_as("SELECT current_setting('jit'), current_setting('statement_timeout')")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!((jit.as_str(), timeout.as_str()), ("off", "10s"));
    }
}
