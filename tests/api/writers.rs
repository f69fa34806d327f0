//! Every writer at once (`issue 18`): CLI imports beside the server's scheduled ingester,
//! a backfill beside an import, retention on two replicas, a snapshot named in the
//! future. Afterwards the history's invariants are checked, not assumed.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fleettickets::config::BucketConfig;
use fleettickets::ingest::backfill;
use fleettickets::ingest::Mode;
use sqlx::PgPool;

use crate::app::spawn_app_with;
use crate::bucket::ingester;
use crate::helpers::{count, eventually, temp_dir, test_db, writer_lock};
use crate::series::series;

/// Tickets with more than one current version, versions that do not end where the next
/// begins (or a last one that ends), and current versions whose tracked fields differ
/// from `tickets.inc`: all zero in a sound history.
pub async fn broken_invariants(pool: &PgPool) -> (i64, i64, i64) {
    let tracked = |p: &str| fleettickets::ticket::columns::list(p, true);
    let doubles = count(
        pool,
        "SELECT count(*) FROM (SELECT ticket_id FROM tickets.inc_history WHERE valid_to IS NULL
                               GROUP BY ticket_id HAVING count(*) > 1) d",
    )
    .await;
    let gaps = count(
        pool,
        "SELECT count(*) FROM (
             SELECT valid_to, lead(valid_from) OVER (PARTITION BY ticket_id ORDER BY valid_from) AS next
             FROM tickets.inc_history) v
         WHERE valid_to IS DISTINCT FROM next",
    )
    .await;
    let differ = count(
        pool,
        &format!(
            "SELECT count(*) FROM tickets.inc i
             LEFT JOIN tickets.inc_history h ON h.ticket_id = i.ticket_id AND h.valid_to IS NULL
             WHERE ROW({}) IS DISTINCT FROM ROW({})",
            tracked("i."),
            tracked("h.")
        ),
    )
    .await;
    (doubles, gaps, differ)
}

/// `fleettickets ARGS --database-url URL`, waited for (on a blocking thread, so many can
/// run at once); exit status and output.
async fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fleettickets"));
    command
        .args(args)
        .args(["--database-url", url])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the CLI runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pending(bucket: &Path) -> usize {
    std::fs::read_dir(bucket.join("automations/inc"))
        .map(|d| {
            d.filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn cli_imports_beside_the_scheduled_ingester_keep_one_current_version() {
    let app = spawn_app_with(&["--ingest-cron", "*/1 * * * * *"]).await;
    let snapshots = series();
    let inbox = app.bucket_dir.path().join("automations/inc");
    std::fs::create_dir_all(&inbox).unwrap();
    let files = temp_dir();
    // Odd hours go to the bucket, even ones to four operators' CLI imports, all at once.
    let mut cli_files = Vec::new();
    for (i, (name, body)) in snapshots.iter().enumerate() {
        match i % 2 {
            0 => {
                let path = files.path().join(name);
                std::fs::write(&path, body).unwrap();
                cli_files.push(path);
            }
            _ => std::fs::write(inbox.join(name), body).unwrap(),
        }
    }
    let url = app.db.url.clone();
    let imports = cli_files.iter().map(|path| {
        let url = url.clone();
        let path = path.display().to_string();
        async move {
            cli(
                &url,
                &["import", "--inc-csv", &path, "--apply", "--wait", "120"],
            )
            .await
        }
    });
    for (ok, out, err) in futures::future::join_all(imports).await {
        assert!(ok, "the CLI import succeeds: {out}{err}");
        assert!(out.contains("tickets "), "{out}");
    }
    eventually(
        Duration::from_secs(60),
        "the bucket's snapshots imported",
        || async { pending(app.bucket_dir.path()) == 0 },
    )
    .await;
    let imported =
        "SELECT count(*) FROM tickets.import_meta WHERE outcome IN ('imported', 'unchanged')";
    eventually(
        Duration::from_secs(30),
        "every snapshot recorded",
        || async { count(&app.db.pool, imported).await == snapshots.len() as i64 },
    )
    .await;
    assert_eq!(broken_invariants(&app.db.pool).await, (0, 0, 0));
    assert!(count(&app.db.pool, "SELECT count(*) FROM tickets.inc_history").await > 1500);
}

#[tokio::test]
async fn a_cli_import_waits_for_the_lock_up_to_its_limit_and_says_so() {
    let db = test_db().await;
    let dir = temp_dir();
    let (name, body) = &series()[0];
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    let held = writer_lock(&db.pool).await;
    let started = Instant::now();
    let file = path.display().to_string();
    let apply = ["import", "--inc-csv", &file, "--apply"];
    let (ok, _, err) = cli(&db.url, &[&apply[..], &["--wait", "1"]].concat()).await;
    assert!(!ok, "refused while the lock is held");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        err.matches("waiting: another import").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("held the ingest lock for 1s"), "{err}");
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tickets.inc").await, 0);
    held.release().await;
    let (ok, out, err) = cli(&db.url, &apply).await;
    assert!(ok, "{out}{err}");
    assert!(!err.contains("waiting"), "{err}");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.inc").await,
        1474
    );
}

#[tokio::test]
async fn a_backfill_beside_an_import_and_retention_on_two_replicas_keep_the_history_sound() {
    let db = test_db().await;
    let dir = temp_dir();
    let snapshots = series();
    let (latest, archived) = snapshots.split_last().unwrap();
    let ing = ingester(&db, &BucketConfig::local(dir.path()));
    for (name, body) in archived {
        ing.bucket
            .put_snapshot(&format!("processed/{name}"), body.clone())
            .await
            .unwrap();
    }
    ing.bucket
        .put_snapshot(&latest.0, latest.1.clone())
        .await
        .unwrap();
    // The CLI's backfill and the ingester's run start together; one waits for the other.
    let bucket_dir = dir.path().display().to_string();
    let args = [
        "history",
        "backfill",
        "--apply",
        "--bucket-dir",
        &bucket_dir,
    ];
    let backfill = cli(&db.url, &args);
    let (backfilled, run) = tokio::join!(backfill, ing.run(Mode::Apply));
    assert!(backfilled.0, "{}{}", backfilled.1, backfilled.2);
    assert!(!run.unwrap().skipped_locked);
    assert_eq!(broken_invariants(&db.pool).await, (0, 0, 0));
    // Whichever went first, the archive is in the history once the backfill ran after
    // the import; run it again (it adds only what is older than what is recorded).
    let lock = writer_lock(&db.pool).await;
    backfill::run(&db.pool, &ing.bucket, Some(&lock), |_| {})
        .await
        .unwrap();
    lock.release().await;
    assert_eq!(broken_invariants(&db.pool).await, (0, 0, 0));
    let versions = count(&db.pool, "SELECT count(*) FROM tickets.inc_history").await;
    assert!(versions > 1500, "{versions}");

    // Two replicas' runs with retention at once: serialised, the history stays sound.
    let keep_one_day = |db| {
        let mut ing = ingester(db, &BucketConfig::local(dir.path()));
        ing.retention_days = Some(1);
        ing
    };
    let (a, b) = (keep_one_day(&db), keep_one_day(&db));
    let (ra, rb) = tokio::join!(a.run(Mode::Apply), b.run(Mode::Apply));
    assert!(!ra.unwrap().skipped_locked && !rb.unwrap().skipped_locked);
    assert_eq!(broken_invariants(&db.pool).await, (0, 0, 0));
    // The series lies months back: every closed version is past a day, so only the
    // current ones stay, and capture starts where the dropped ones ended.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM tickets.inc_history WHERE valid_to IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.inc_history").await,
        count(&db.pool, "SELECT count(*) FROM tickets.inc").await
    );
}

#[tokio::test]
async fn a_snapshot_named_in_the_future_is_recorded_at_the_clock() {
    let db = test_db().await;
    let dir = temp_dir();
    let (_, body) = &series()[0];
    let path = dir.path().join("2031-06-01T000000.csv");
    std::fs::write(&path, body).unwrap();
    let before = chrono::Utc::now();
    let (ok, out, err) = cli(
        &db.url,
        &[
            "import",
            "--inc-csv",
            &path.display().to_string(),
            "--apply",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["future_snapshot"]["named"], "2031-06-01T00:00:00+03:00",
        "{report}"
    );
    let recorded_at = chrono::DateTime::parse_from_rfc3339(
        report["future_snapshot"]["recorded_at"].as_str().unwrap(),
    )
    .unwrap();
    assert!(recorded_at >= before && recorded_at <= chrono::Utc::now());
    let after = "SELECT count(*) FROM tickets.inc_history WHERE valid_from > now()";
    assert_eq!(
        count(&db.pool, after).await,
        0,
        "no version ahead of the clock"
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.inc_history").await,
        1474,
        "a version per ticket"
    );
    let meta = "SELECT count(*) FROM tickets.import_meta WHERE snapshot_at > now()";
    assert_eq!(count(&db.pool, meta).await, 0);
    // The text report says it too.
    std::fs::write(dir.path().join("2031-06-01T010000.csv"), body).unwrap();
    let later = dir
        .path()
        .join("2031-06-01T010000.csv")
        .display()
        .to_string();
    let (_, text, _) = cli(&db.url, &["import", "--inc-csv", &later]).await;
    assert!(
        text.contains(
            "WARNING   its name says 2031-06-01T01:00:00+03:00, after this import's clock"
        ),
        "{text}"
    );
    // Sealing stops at the clock.
    let ing = ingester(&db, &BucketConfig::local(dir.path()));
    ing.run(Mode::Apply).await.unwrap();
    let sealed_ahead = "SELECT count(*) FROM tickets.backlog_hourly WHERE hour_end > now()";
    assert_eq!(count(&db.pool, sealed_ahead).await, 0);
}

#[tokio::test]
async fn a_backfill_beside_a_running_server_is_served_at_once() {
    // A cache that would hold the old answer for ten minutes: only the notice drops it.
    let app = spawn_app_with(&["--cache-ttl-secs", "600"]).await;
    let snapshots = series();
    let (latest, archived) = snapshots.split_last().unwrap();
    let files = temp_dir();
    let path = files.path().join(&latest.0);
    std::fs::write(&path, &latest.1).unwrap();
    app.import(&path).await;
    let bucket = BucketConfig::local(app.bucket_dir.path());
    let ing = ingester(&app.db, &bucket);
    for (name, body) in archived {
        ing.bucket
            .put_snapshot(&format!("processed/{name}"), body.clone())
            .await
            .unwrap();
    }
    let q = "/api/v1/inc/backlog?from=2026-06-16T05:00:00%2B03:00&to=2026-06-16T08:00:00%2B03:00";
    let (status, before) = app.get_json(q).await;
    assert_eq!(status, 200, "{before}");
    assert!(
        before["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["open"].is_null()),
        "before capture: {before}"
    );
    let lock = writer_lock(&app.db.pool).await;
    let report = backfill::run(&app.db.pool, &ing.bucket, Some(&lock), |_| {})
        .await
        .unwrap();
    lock.release().await;
    assert_eq!(report.snapshots, archived.len());
    // Served within moments of the backfill's commit (the notice, not the 600 s TTL).
    eventually(
        Duration::from_secs(5),
        "the replayed past served",
        || async {
            let (_, after) = app.get_json(q).await;
            after["points"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["open"].as_i64() > Some(0))
        },
    )
    .await;
}

#[tokio::test]
async fn ingest_on_start_without_a_schedule_ingests_once() {
    let bucket = temp_dir();
    let inbox = bucket.path().join("automations/inc");
    std::fs::create_dir_all(&inbox).unwrap();
    let (name, body) = &series()[0];
    std::fs::write(inbox.join(name), body).unwrap();
    let dir = bucket.path().display().to_string();
    let app = spawn_app_with(&[
        "--ingest-cron",
        "off",
        "--ingest-on-start",
        "--bucket-dir",
        &dir,
    ])
    .await;
    let imported = "SELECT count(*) FROM tickets.import_meta WHERE outcome = 'imported'";
    eventually(Duration::from_secs(30), "the start-up ingest", || async {
        count(&app.db.pool, imported).await == 1
    })
    .await;
    eventually(Duration::from_secs(30), "the snapshot archived", || async {
        !inbox.join(name).exists()
    })
    .await;
}
