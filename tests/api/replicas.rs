//! Several `serve` processes against one database: exactly one imports at a time, and
//! an import's NOTIFY reaches every replica; and replicas reading from a real hot standby
//! behind nginx.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fleettickets::config::BucketConfig;
use fleettickets::events::{DataChanged, Events};
use fleettickets::ingest::bucket::Bucket;

use crate::bucket::series;
use crate::helpers::{import_path, temp_dir, test_db, write_file};
use crate::s3;

/// A `fleettickets serve` process, killed when dropped.
struct Replica(Child);

impl Replica {
    fn spawn(database_url: &str, bucket: &BucketConfig, cron: &str) -> Replica {
        let child = Command::new(env!("CARGO_BIN_EXE_fleettickets"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("S3_ENDPOINT", bucket.s3_endpoint.as_deref().unwrap())
            .env("S3_BUCKET", &bucket.s3_bucket)
            .env("S3_ACCESS_KEY_ID", "test")
            .env("S3_SECRET_ACCESS_KEY", "test")
            .env("INGEST_CRON", cron)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the fleettickets binary runs");
        Replica(child)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[tokio::test]
async fn two_replicas_import_each_snapshot_exactly_once_and_never_together() {
    let db = test_db().await;
    let config = s3::new_bucket(s3::shared_endpoint()).await;
    let bucket = Bucket::from_config(&config).unwrap();
    let _a = Replica::spawn(&db.url, &config, "* * * * * *");
    let _b = Replica::spawn(&db.url, &config, "* * * * * *");

    // Snapshots arrive over a few seconds, as the export drops them; the third is a
    // byte-identical re-emission of the second.
    let mut names = Vec::new();
    for (name, body) in series() {
        bucket.put_snapshot(name, body.into_bytes()).await.unwrap();
        names.push(name);
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let keys = bucket.keys().await.unwrap();
        if keys.iter().filter(|k| k.contains("/processed/")).count() == names.len() {
            break;
        }
        assert!(Instant::now() < deadline, "not all archived: {keys:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT source_key, outcome FROM tickets.import_meta ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let expected: Vec<(String, String)> = names
        .iter()
        .zip(["imported", "imported", "unchanged"])
        .map(|(n, o)| (format!("automations/inc/{n}"), o.to_owned()))
        .collect();
    assert_eq!(
        rows, expected,
        "each snapshot handled exactly once, in order"
    );
    // No two imports overlapped in time.
    let overlaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets.import_meta a JOIN tickets.import_meta b ON a.id < b.id
         WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(overlaps, 0);
    assert_eq!(
        crate::helpers::count(&db.pool, "SELECT count(*) FROM tickets.inc").await,
        4
    );
}

#[tokio::test]
async fn an_import_in_one_process_reaches_the_others_event() {
    let db = test_db().await;
    // The "other replica": its own pool and listener.
    let other =
        fleettickets::db::connect(&fleettickets::config::DatabaseConfig::new(db.url.clone()))
            .await
            .unwrap();
    let events = Events::default();
    let mut rx = events.subscribe();
    let listener = events.clone();
    tokio::spawn(async move { listener.listen(&other, &Default::default()).await });
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let primary_now = fleettickets::db::wal::primary_position(&db.pool)
        .await
        .unwrap();
    assert!(
        matches!(first, DataChanged::Reconnected { wal } if wal <= primary_now),
        "listening starts with a catch-up event at the primary's position: {first:?}"
    );

    let dir = temp_dir();
    let path = write_file(
        dir.path(),
        "s.csv",
        &format!(
            "{}\n{}",
            crate::bucket::HEAD,
            "INC1,OPEN,true,Karen,Nairobi,,\n"
        ),
    );
    let report = import_path(&db.pool, &path, fleettickets::ingest::Mode::Apply)
        .await
        .unwrap();
    let after_commit = fleettickets::db::wal::primary_position(&db.pool)
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    // The position was read after the commit: past the one read before the import,
    // not past one read after the notification.
    assert!(
        matches!(event, DataChanged::Import { id, wal }
            if Some(id) == report.import_id && wal > primary_now && wal <= after_commit),
        "{event:?}"
    );

    // An import that writes nothing sends nothing.
    import_path(&db.pool, &path, fleettickets::ingest::Mode::Apply)
        .await
        .unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(700), rx.recv())
        .await
        .is_err());
}
