//! SIGTERM on the real binary: a request in flight is answered, an import in progress is
//! rolled back (nothing written, its snapshot still pending) and the process exits 0
//! within `SHUTDOWN_GRACE_SECS`.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use fleettickets_gen::{self as generate, Spec};
use sqlx::{Connection, PgConnection};

use crate::cluster::Serve;
use crate::helpers::{count, temp_dir, test_db, tickets_checksum};

const ADMIN: &str = "0123456789abcdef-admin";
const GRACE_SECS: u64 = 10;
const WAITING_ON_A_LOCK: &str = "SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock'
    AND query NOT LIKE '%inc_staging%'";

#[tokio::test]
async fn sigterm_rolls_an_import_back_and_exits_zero_within_the_grace() {
    let db = test_db().await;
    let dir = temp_dir();
    let inbox = dir.path().join("bucket/automations/inc");
    std::fs::create_dir_all(&inbox).unwrap();
    let snapshot = inbox.join("2026-06-16T071502.csv");
    // Large enough that the debug build takes seconds to import it.
    let spec = Spec {
        rows: 40_000,
        seed: 12,
        as_of: Utc.with_ymd_and_hms(2026, 6, 16, 4, 15, 2).unwrap(),
        truncated: false,
    };
    let file = std::io::BufWriter::new(std::fs::File::create(&snapshot).unwrap());
    generate::write(&spec, file).unwrap();
    let before = tickets_checksum(&db.pool).await;
    let env = [
        ("DATABASE_URL", db.url.clone()),
        (
            "BUCKET_DIR",
            dir.path().join("bucket").display().to_string(),
        ),
        ("INGEST_CRON", "off".to_owned()),
        ("API_TOKENS", format!("ops:admin:{ADMIN}")),
        ("SHUTDOWN_GRACE_SECS", GRACE_SECS.to_string()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let log = dir.path().join("serve.log");
    let mut serve = Serve::spawn(env!("CARGO_BIN_EXE_fleettickets"), log.clone(), &env);
    let client = reqwest::Client::new();
    let r = client
        .post(serve.url("/api/v1/admin/import"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    // The import's transaction has written (its staging table) once it has an xid.
    loop {
        let writing = count(
            &db.pool,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
             AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
        )
        .await;
        if writing > 0 {
            break;
        }
        let job: serde_json::Value = client
            .get(serve.url(&location))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(job["status"], "running", "{job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A request held up by a lock on `tickets.inc` (which the import does not touch
    // while it stages; the lock waits only for a reload's read) is in flight when the
    // signal comes.
    let mut holder = PgConnection::connect(&db.url).await.unwrap();
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE tickets.inc IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let in_flight = tokio::spawn(
        client
            .get(serve.url("/api/v1/clusters"))
            .bearer_auth(ADMIN)
            .send(),
    );
    while count(&db.pool, WAITING_ON_A_LOCK).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.terminate();
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("import job cancelled by the shutdown")
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lock.rollback().await.unwrap();
    let answer = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!([])
    );
    let status = serve.exit_within(Duration::from_secs(GRACE_SECS + 5));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{text}");
    assert_eq!(tickets_checksum(&db.pool).await, before, "nothing written");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
        0
    );
    assert!(snapshot.exists(), "the snapshot is still pending");
    assert!(!inbox.join("processed/2026-06-16T071502.csv").exists());
}
