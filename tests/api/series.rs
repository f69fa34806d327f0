//! A generated hourly series (closures, reopenings, reassignments, a byte-identical
//! re-export, a row re-sent with an older `source_updated_at`) imported from the bucket:
//! the versions and the backlog checked against a plain replay of the CSV rows written
//! here, independently of the service; then the archive backfill against the same.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use fleettickets::config::BucketConfig;
use fleettickets::ingest::backfill;
use fleettickets::ingest::Mode;
use fleettickets_gen::{self as generate, SeriesSpec, Spec};
use serde_json::Value;

use crate::app::spawn_app;
use crate::bucket::ingester;
use crate::helpers::{count, temp_dir, test_db, writer_lock};

const SNAPSHOTS: u32 = 12;

pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-16T06:00:00+03:00")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn series() -> Vec<(String, Vec<u8>)> {
    let spec = SeriesSpec {
        base: Spec {
            rows: 1500,
            seed: 11,
            as_of: start(),
            truncated: false,
        },
        snapshots: SNAPSHOTS,
        change_rate: 0.04,
        identical_at: Some(4),
        stale_at: Some(6),
    };
    let mut out = Vec::new();
    generate::series(&spec, |name, body| {
        out.push((name, body));
        Ok(())
    })
    .unwrap();
    out
}

/// A ticket's tracked fields as the cleaning rules of inc-csv.md make them.
#[derive(Debug, Clone, PartialEq)]
struct Tracked {
    status: Option<String>,
    actionable: bool,
    cluster: Option<String>,
    rest: Vec<Option<String>>,
    start: Option<DateTime<Utc>>,
}

/// Each snapshot's time and every ticket's tracked fields after it.
type States = Vec<(DateTime<Utc>, BTreeMap<String, Tracked>)>;

/// Per ticket: the stored `source_updated_at`, the current version and its start.
type Current = BTreeMap<String, (Option<DateTime<Utc>>, Tracked, DateTime<Utc>)>;

#[derive(Debug, Clone, PartialEq)]
struct Expected {
    ticket: String,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    tracked: Tracked,
}

fn eat(text: &str) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    Some(t.and_utc() - Duration::hours(3))
}

fn non_empty(v: &str) -> Option<String> {
    (!v.trim().is_empty()).then(|| v.to_owned())
}

/// Replays the snapshots as the spec describes an import and capture: the later row
/// wins, alarms and empty ids are dropped, a stored row with a strictly newer
/// `source_updated_at` is kept, a version whenever a tracked field changes.
fn replay(snapshots: &[(String, Vec<u8>)]) -> (Vec<Expected>, States) {
    let mut current = Current::new();
    let mut closed = Vec::new();
    let mut states = Vec::new();
    for (name, body) in snapshots {
        let stem = name.trim_end_matches(".csv");
        let at = NaiveDateTime::parse_from_str(stem, "%Y-%m-%dT%H%M%S")
            .unwrap()
            .and_utc()
            - Duration::hours(3);
        let mut csv = csv::Reader::from_reader(&body[..]);
        let header: Vec<String> = csv
            .headers()
            .unwrap()
            .iter()
            .map(|h| h.trim().to_lowercase())
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let truthy =
            |v: &str| ["true", "t", "1", "yes"].contains(&v.trim().to_lowercase().as_str());
        for record in csv.records() {
            let r = record.unwrap();
            let id = r[col("ticket_id")].trim().to_owned();
            if id.is_empty() || truthy(&r[col("is_alarm")]) {
                continue;
            }
            let updated = eat(&r[col("source_updated_at")]);
            let created = eat(&r[col("created_at_service")]);
            let tracked = Tracked {
                status: non_empty(&r[col("normalized_status")]).map(|s| s.trim().to_uppercase()),
                actionable: truthy(&r[col("is_actionable")]),
                cluster: non_empty(&r[col("cluster")]).map(|s| s.trim().to_owned()),
                rest: [
                    "region",
                    "assigned_team",
                    "owner",
                    "sla_status",
                    "mttr",
                    "created_at_service",
                    "closed_at",
                    "first_seen_at",
                ]
                .iter()
                .map(|c| {
                    non_empty(&r[col(c)]).map(|v| {
                        if *c == "region" {
                            v.trim().to_lowercase()
                        } else {
                            v
                        }
                    })
                })
                .collect(),
                start: created.or_else(|| eat(&r[col("first_seen_at")])),
            };
            match current.get_mut(&id) {
                None => {
                    current.insert(id, (updated, tracked, at));
                }
                Some((stored, _, _))
                    if stored.is_some() && (updated.is_none() || updated < *stored) => {}
                Some((stored, was, since)) => {
                    *stored = updated;
                    if *was != tracked {
                        closed.push(Expected {
                            ticket: id.clone(),
                            from: *since,
                            to: Some(at),
                            tracked: was.clone(),
                        });
                        *was = tracked;
                        *since = at;
                    }
                }
            }
        }
        states.push((
            at,
            current
                .iter()
                .map(|(k, v)| (k.clone(), v.1.clone()))
                .collect(),
        ));
    }
    let mut all: Vec<Expected> = closed;
    all.extend(
        current
            .into_iter()
            .map(|(ticket, (_, tracked, from))| Expected {
                ticket,
                from,
                to: None,
                tracked,
            }),
    );
    all.sort_by(|a, b| (&a.ticket, a.from).cmp(&(&b.ticket, b.from)));
    (all, states)
}

type DbVersion = (
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<bool>,
    Option<String>,
);

async fn db_versions(pool: &sqlx::PgPool) -> Vec<DbVersion> {
    sqlx::query_as(
        "SELECT ticket_id, valid_from, valid_to, normalized_status, is_actionable, cluster
         FROM tickets.inc_history ORDER BY ticket_id COLLATE \"C\", valid_from",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every tracked column, for comparing two histories exactly.
async fn full_history(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT (to_jsonb(h) - 'import_id')::text FROM tickets.inc_history h
         ORDER BY ticket_id COLLATE \"C\", valid_from",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The backlog the replay says at each of `ends` (hourly, in order), for a cluster:
/// the state after the last snapshot at or before the end (none before the first: -1),
/// SLA judged at the end, the flow of the snapshots after the previous end.
/// The sealed hours: each hour end (EAT) with the rest of its row as text.
async fn sealed_rows(pool: &sqlx::PgPool) -> Vec<(String, String)> {
    let rows: Vec<(DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT hour_end, format('%s %s %s %s %s %s %s %s', sla_target_hours, open, within,
                                 at_risk, breached, unknown, entered, \"left\")
         FROM tickets.backlog_hourly ORDER BY hour_end",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(t, rest)| (fleettickets::eat::rfc3339(t), rest))
        .collect()
}

fn expected_points(
    states: &[(DateTime<Utc>, BTreeMap<String, Tracked>)],
    ends: &[DateTime<Utc>],
    cluster: Option<&str>,
) -> Vec<[i64; 7]> {
    let counts = |t: &Tracked| {
        t.actionable
            && cluster.is_none_or(|c| {
                t.cluster
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(c))
            })
    };
    let mut points = Vec::new();
    for (j, end) in ends.iter().enumerate() {
        let Some(last) = states.iter().rposition(|(at, _)| at <= end) else {
            points.push([-1; 7]);
            continue;
        };
        let mut p = [0i64; 7]; // open, within, at_risk, breached, unknown, entered, left
        for t in states[last].1.values().filter(|t| counts(t)) {
            p[0] += 1;
            let slot = match t.start {
                None => 4,
                Some(s) if *end - s >= Duration::hours(24) => 3,
                Some(s) if *end - s >= Duration::hours(18) => 2,
                Some(_) => 1,
            };
            p[slot] += 1;
        }
        // The first snapshot is the starting state: no flow.
        for i in 1..=last {
            if j > 0 && states[i].0 <= ends[j - 1] {
                continue;
            }
            for (id, t) in &states[i].1 {
                let was = states[i - 1].1.get(id).is_some_and(counts);
                match (was, counts(t)) {
                    (false, true) => p[5] += 1,
                    (true, false) => p[6] += 1,
                    _ => {}
                }
            }
        }
        points.push(p);
    }
    points
}

fn hourly_ends(from: &str, n: i64) -> Vec<DateTime<Utc>> {
    let from = DateTime::parse_from_rfc3339(from)
        .unwrap()
        .with_timezone(&Utc);
    (1..=n).map(|h| from + Duration::hours(h)).collect()
}

fn got_points(body: &Value) -> Vec<[i64; 7]> {
    body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            [
                "open", "within", "at_risk", "breached", "unknown", "entered", "left",
            ]
            .map(|k| p[k].as_i64().unwrap_or(-1))
        })
        .collect()
}

#[tokio::test]
async fn a_generated_series_gives_the_replayed_versions_and_backlog() {
    let snapshots = series();
    let (expected, states) = replay(&snapshots);
    let app = spawn_app().await;
    let ing = ingester(&app.db, &BucketConfig::local(app.bucket_dir.path()));
    for (name, body) in &snapshots {
        ing.bucket.put_snapshot(name, body.clone()).await.unwrap();
    }
    ing.run(Mode::Apply).await.unwrap();
    let p = &app.db.pool;
    // The re-export was an ETag skip; the re-sent older row was refused.
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM tickets.import_meta WHERE outcome = 'unchanged'"
        )
        .await,
        1
    );
    assert!(
        count(
            p,
            "SELECT count(*) FROM tickets.import_meta WHERE skipped_older > 0"
        )
        .await
            >= 1
    );

    let got = db_versions(p).await;
    let mut want: Vec<DbVersion> = expected
        .iter()
        .map(|e| {
            (
                e.ticket.clone(),
                e.from,
                e.to,
                e.tracked.status.clone(),
                Some(e.tracked.actionable),
                e.tracked.cluster.clone(),
            )
        })
        .collect();
    want.sort_by(|a, b| (a.0.as_bytes(), a.1).cmp(&(b.0.as_bytes(), b.1)));
    // The generator writes the messy booleans the cleaner reads; an unreadable one is null.
    let got: Vec<DbVersion> = got
        .into_iter()
        .map(|mut v| {
            v.4 = Some(v.4 == Some(true));
            v
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    // 2–5 % of the tickets change per hour: versions beyond the first, per snapshot.
    let tickets = count(p, "SELECT count(*) FROM tickets.inc").await;
    let changes = got.len() as i64 - tickets;
    assert!(
        changes > tickets / 100 * (SNAPSHOTS as i64 - 2),
        "{changes} changes over {tickets} tickets"
    );

    // The backlog, unfiltered and for a cluster that tickets moved into and out of.
    let q = "/api/v1/inc/backlog?from=2026-06-16T05:00:00%2B03:00&to=2026-06-16T18:00:00%2B03:00&interval=hour";
    let ends = hourly_ends("2026-06-16T05:00:00+03:00", 13);
    // Wait for the app to hear of the imports (its cache key follows the data).
    let mut body = Value::Null;
    for _ in 0..100 {
        let (_, b) = app.get_json(q).await;
        if b["capture_started_at"].is_string() {
            body = b;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(body["capture_started_at"], "2026-06-16T06:00:00+03:00");
    let points = got_points(&body);
    assert_eq!(points, expected_points(&states, &ends, None));
    for w in points.windows(2) {
        assert_eq!(
            w[1][0],
            w[0][0] + w[1][5] - w[1][6],
            "open(end) = open + entered − left"
        );
    }
    // The hours from 07:00 to 16:00 are sealed (the last snapshot's, 17:00, may still be
    // replaced by an import at that instant), and the series reads them from there.
    let sealed = sealed_rows(p).await;
    let hours: Vec<String> = (1..=10)
        .map(|h| fleettickets::eat::rfc3339(start() + Duration::hours(h)))
        .collect();
    assert_eq!(
        sealed.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        hours
    );
    sqlx::query("UPDATE tickets.backlog_hourly SET open = open + 1000 WHERE hour_end = $1")
        .bind(start() + Duration::hours(3))
        .execute(p)
        .await
        .unwrap();
    let (_, tampered) = app.get_json(&q.replace("T18:00:00", "T17:59:00")).await;
    assert_eq!(
        got_points(&tampered)[3][0],
        points[3][0] + 1000,
        "09:00 read from its row"
    );
    assert_eq!(got_points(&tampered)[4], points[4]);
    let moved = expected
        .windows(2)
        .find(|w| {
            w[0].ticket == w[1].ticket
                && w[0].tracked.actionable
                && w[1].tracked.actionable
                && w[0].tracked.cluster != w[1].tracked.cluster
        })
        .expect("an open ticket moved between clusters");
    for cluster in [&moved[0].tracked.cluster, &moved[1].tracked.cluster] {
        let cluster = cluster.clone().unwrap();
        let (_, filtered) = app
            .get_json(&format!("{q}&cluster={}", cluster.replace(' ', "%20")))
            .await;
        let want = expected_points(&states, &ends, Some(&cluster));
        assert_eq!(got_points(&filtered), want, "{cluster}");
    }
    // Before capture start: nulls.
    let (_, early) = app
        .get_json(
            "/api/v1/inc/backlog?from=2026-06-16T03:00:00%2B03:00&to=2026-06-16T07:00:00%2B03:00",
        )
        .await;
    let early = got_points(&early);
    assert_eq!(early[..2], [[-1; 7]; 2]);
    assert_eq!(
        early,
        expected_points(&states, &hourly_ends("2026-06-16T03:00:00+03:00", 4), None)
    );
}

#[tokio::test]
async fn backfill_gives_the_history_a_live_capture_would_have() {
    let snapshots = series();
    // Live capture over the whole series.
    let live = test_db().await;
    let live_dir = temp_dir();
    let ing = ingester(&live, &BucketConfig::local(live_dir.path()));
    for (name, body) in &snapshots {
        ing.bucket.put_snapshot(name, body.clone()).await.unwrap();
    }
    ing.run(Mode::Apply).await.unwrap();

    // The archive of the system this replaces, an unreadable file in it, and the newest
    // snapshot imported by this service.
    let db = test_db().await;
    let dir = temp_dir();
    let ing = ingester(&db, &BucketConfig::local(dir.path()));
    let (last, archived) = snapshots.split_last().unwrap();
    for (name, body) in archived {
        ing.bucket
            .put_snapshot(&format!("processed/{name}"), body.clone())
            .await
            .unwrap();
    }
    let broken = "processed/2026-06-16T063000.csv";
    ing.bucket
        .put_snapshot(broken, b"id,status\nINC1,OPEN\n".to_vec())
        .await
        .unwrap();
    ing.bucket
        .put_snapshot(&last.0, last.1.clone())
        .await
        .unwrap();
    ing.run(Mode::Apply).await.unwrap();
    let before = full_history(&db.pool).await;

    let dry = backfill::run(&db.pool, &ing.bucket, None, |_| {})
        .await
        .unwrap();
    assert_eq!(
        full_history(&db.pool).await,
        before,
        "a dry run writes nothing"
    );
    let mut lines = Vec::new();
    let lock = writer_lock(&db.pool).await;
    let done = backfill::run(&db.pool, &ing.bucket, Some(&lock), |step| {
        lines.push(step.to_string())
    })
    .await
    .unwrap();
    lock.release().await;
    assert_eq!(
        (dry.snapshots, dry.versions),
        (done.snapshots, done.versions)
    );
    assert_eq!(done.snapshots, archived.len());
    assert_eq!(lines.len(), archived.len() + 1, "a line per snapshot");
    assert_eq!(done.skipped.len(), 1);
    assert_eq!(done.skipped[0].0, format!("automations/inc/{broken}"));
    assert_eq!(full_history(&db.pool).await, full_history(&live.pool).await);
    // The past changed, so its sealed hours went; the next run seals them as live did.
    assert_eq!(sealed_rows(&db.pool).await, []);
    ing.run(Mode::Apply).await.unwrap();
    assert_eq!(sealed_rows(&db.pool).await, sealed_rows(&live.pool).await);
    assert_eq!(sealed_rows(&db.pool).await.len(), SNAPSHOTS as usize - 2);
    let starts = "SELECT extract(epoch FROM started_at)::bigint FROM tickets.history_capture";
    assert_eq!(
        count(&db.pool, starts).await,
        count(&live.pool, starts).await
    );
    assert_eq!(count(&db.pool, starts).await, start().timestamp());
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.inc_history").await - before.len() as i64,
        done.versions
    );
    // Again: nothing to add.
    let lock = writer_lock(&db.pool).await;
    let again = backfill::run(&db.pool, &ing.bucket, Some(&lock), |_| {})
        .await
        .unwrap();
    lock.release().await;
    assert_eq!((again.snapshots, again.versions), (0, 0));
    assert_eq!(full_history(&db.pool).await, full_history(&live.pool).await);
}
