//! The bucket ingester against a real S3 server (moto) and the local-folder bucket:
//! ordering, ETag skips, archiving, bad snapshots, faults and the single importer.

use fleettickets::config::BucketConfig;
use fleettickets::ingest::bucket::Bucket;
use fleettickets::ingest::run::{Ingester, Outcome};
use fleettickets::ingest::Mode;

use crate::helpers::{count, temp_dir, test_db, tickets_checksum, TestDb};
use crate::s3;

pub const HEAD: &str =
    "ticket_id,normalized_status,is_actionable,cluster,region,closed_at,source_updated_at";

/// The series: new tickets, a closure, a ticket that vanishes, a byte-identical re-emission.
pub fn series() -> [(&'static str, String); 3] {
    [
        (
            "2026-06-16T071502.csv",
            format!("{HEAD}\nINC1,OPEN,true,Westlands,Nairobi,,2026-06-16 07:00:00\nINC2,OPEN,true,Karen,Nairobi,,2026-06-16 07:00:00\nINC3,CLOSED,false,Karen,Nairobi,2026-06-16 06:00:00,2026-06-16 06:00:00\n"),
        ),
        (
            "2026-06-16T081502.csv",
            format!("{HEAD}\nINC1,CLOSED,false,Westlands,Nairobi,2026-06-16 08:00:00,2026-06-16 08:00:00\nINC2,OPEN,true,Karen,Nairobi,,2026-06-16 07:00:00\nINC4,OPEN,true,Kilimani,Nairobi,,2026-06-16 08:05:00\n"),
        ),
        (
            "2026-06-16T091502.csv",
            format!("{HEAD}\nINC1,CLOSED,false,Westlands,Nairobi,2026-06-16 08:00:00,2026-06-16 08:00:00\nINC2,OPEN,true,Karen,Nairobi,,2026-06-16 07:00:00\nINC4,OPEN,true,Kilimani,Nairobi,,2026-06-16 08:05:00\n"),
        ),
    ]
}

pub fn ingester(db: &TestDb, bucket: &BucketConfig) -> Ingester {
    Ingester {
        seal_sla_target_hours: Some(24.0),
        retention_days: None,
        pool: db.pool.clone(),
        bucket: Bucket::from_config(bucket).unwrap(),
        metrics: Default::default(),
        database_url: db.url.clone().into(),
        geocode: None,
    }
}

async fn statuses(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as("SELECT ticket_id, normalized_status FROM tickets.inc ORDER BY ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

async fn outcomes(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as("SELECT source_key, outcome FROM tickets.import_meta ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

fn key(name: &str) -> String {
    format!("automations/inc/{name}")
}

async fn the_series_ends_in_the_expected_state(bucket_config: BucketConfig) {
    let db = test_db().await;
    let ing = ingester(&db, &bucket_config);
    // Uploaded newest first: the order comes from the names, not the upload time.
    for (name, body) in series().iter().rev() {
        ing.bucket
            .put_snapshot(name, body.clone().into_bytes())
            .await
            .unwrap();
    }
    ing.bucket
        .put_snapshot("readme.txt", b"not a snapshot".to_vec())
        .await
        .unwrap();
    ing.bucket
        .put_snapshot("notes/2026-06-16T101502.csv", b"in a folder".to_vec())
        .await
        .unwrap();

    // A dry run touches neither the database nor the bucket.
    let dry = ing.run(Mode::DryRun).await.unwrap();
    assert_eq!(dry.snapshots.len(), 3);
    assert!(matches!(dry.snapshots[2].outcome, Outcome::Unchanged));
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tickets.inc").await, 0);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
        0
    );
    assert_eq!(ing.bucket.keys().await.unwrap().len(), 5);

    let run = ing.run(Mode::Apply).await.unwrap();
    assert!(run.wrote_rows());
    let names: Vec<&str> = series().iter().map(|(n, _)| *n).collect();
    assert_eq!(
        outcomes(&db).await,
        vec![
            (key(names[0]), "imported".into()),
            (key(names[1]), "imported".into()),
            (key(names[2]), "unchanged".into()),
        ]
    );
    assert_eq!(
        statuses(&db).await,
        vec![
            ("INC1".into(), "CLOSED".into()),
            ("INC2".into(), "OPEN".into()),
            ("INC3".into(), "CLOSED".into()), // vanished from the export, kept
            ("INC4".into(), "OPEN".into()),
        ]
    );
    let mut keys = ing.bucket.keys().await.unwrap();
    keys.sort();
    let mut want = vec![
        key("notes/2026-06-16T101502.csv"),
        key(&format!("processed/{}", names[0])),
        key(&format!("processed/{}", names[1])),
        key(&format!("processed/{}", names[2])),
        key("readme.txt"),
    ];
    want.sort();
    assert_eq!(keys, want);
    // Nothing pending: the next run does nothing.
    assert!(ing.run(Mode::Apply).await.unwrap().snapshots.is_empty());
}

#[tokio::test]
async fn a_series_of_snapshots_on_s3() {
    the_series_ends_in_the_expected_state(s3::new_bucket(s3::shared_endpoint()).await).await;
}

#[tokio::test]
async fn the_same_series_on_the_local_folder_bucket() {
    let dir = temp_dir();
    the_series_ends_in_the_expected_state(BucketConfig::local(dir.path())).await;
}

/// The local folder's files are hashed and copied in one piece (not object_store's 8 KiB
/// chunks): the same ETag as S3's MD5, and the same bytes back, for a multi-chunk file.
#[tokio::test]
async fn a_local_snapshot_has_the_s3_etag_and_downloads_whole() {
    let dir = temp_dir();
    let body: Vec<u8> = (0..300_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let mut etags = Vec::new();
    for config in [
        BucketConfig::local(dir.path()),
        s3::new_bucket(s3::shared_endpoint()).await,
    ] {
        let bucket = Bucket::from_config(&config).unwrap();
        bucket
            .put_snapshot("2026-06-16T071502.csv", body.clone())
            .await
            .unwrap();
        let pending = bucket.pending().await.unwrap();
        assert_eq!(pending.len(), 1);
        let copy = dir.path().join("copy.csv");
        bucket.download(&pending[0].key, &copy).await.unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), body);
        etags.push(pending[0].etag.clone());
    }
    assert_eq!(etags[0], etags[1]);
    assert_eq!(etags[0].len(), 32);
}

#[tokio::test]
async fn a_corrupt_snapshot_is_set_aside_and_the_good_ones_import() {
    let db = test_db().await;
    let ing = ingester(&db, &s3::new_bucket(s3::shared_endpoint()).await);
    let [(first, a), (_, _), (third, c)] = series();
    let bad = "2026-06-16T081502.csv";
    ing.bucket
        .put_snapshot(first, a.into_bytes())
        .await
        .unwrap();
    ing.bucket
        .put_snapshot(bad, b"id,status\nINC9,OPEN\n".to_vec())
        .await
        .unwrap();
    ing.bucket
        .put_snapshot(third, c.into_bytes())
        .await
        .unwrap();
    ing.run(Mode::Apply).await.unwrap();
    assert_eq!(
        outcomes(&db).await,
        vec![
            (key(first), "imported".into()),
            (key(bad), "failed".into()),
            (key(third), "imported".into())
        ]
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM tickets.inc WHERE ticket_id = 'INC9'"
        )
        .await,
        0
    );
    let note = String::from_utf8(
        ing.bucket
            .read(&key(&format!("failed/{bad}.error.txt")))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        note.trim(),
        format!("{}: the header has no `ticket_id` column", key(bad))
    );
    let keys = ing.bucket.keys().await.unwrap();
    assert!(keys.contains(&key(&format!("failed/{bad}"))), "{keys:?}");
    assert!(!keys.contains(&key(bad)), "{keys:?}");
}

/// The S3 server stops answering right after a snapshot's import commits, before it is
/// archived; then it comes back.
#[tokio::test]
async fn a_frozen_s3_server_loses_nothing_and_the_next_run_completes() {
    let db = test_db().await;
    let moto = s3::OwnMoto::start();
    let mut config = s3::new_bucket(&moto.endpoint).await;
    config.s3_timeout_secs = 1;
    config.s3_max_retries = 1;
    let ing = ingester(&db, &config);

    // Frozen before the run: nothing is read, nothing is written.
    ing.bucket
        .put_snapshot(series()[0].0, series()[0].1.clone().into_bytes())
        .await
        .unwrap();
    moto.freeze();
    assert!(ing.run(Mode::Apply).await.is_err());
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
        0
    );
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tickets.inc").await, 0);
    moto.thaw();

    // Frozen after the first snapshot's commit: it stays pending, the store holds it once.
    let spec = fleettickets_gen::Spec {
        rows: 60_000,
        seed: 9,
        as_of: chrono::Utc::now(),
        truncated: false,
    };
    let mut big = Vec::new();
    fleettickets_gen::write(&spec, &mut big).unwrap();
    ing.bucket.put_snapshot(series()[0].0, big).await.unwrap();
    ing.bucket
        .put_snapshot(series()[1].0, series()[1].1.clone().into_bytes())
        .await
        .unwrap();
    let run = {
        let ing = ing.clone();
        tokio::spawn(async move { ing.run(Mode::Apply).await })
    };
    let mut seen = false;
    for _ in 0..4000 {
        seen = count(&db.pool, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY inc_staging%' AND state = 'active'").await > 0;
        if seen {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(seen, "the first import was seen writing");
    moto.freeze();
    assert!(run.await.unwrap().is_err(), "the archive cannot happen");
    moto.thaw();
    assert_eq!(
        outcomes(&db).await,
        vec![(key(series()[0].0), "imported".into())]
    );
    let after_first = tickets_checksum(&db.pool).await;
    assert!(
        ing.bucket
            .keys()
            .await
            .unwrap()
            .contains(&key(series()[0].0)),
        "still pending"
    );

    // Back: the committed snapshot is recognised by its ETag, the next one imports.
    ing.run(Mode::Apply).await.unwrap();
    assert_eq!(
        outcomes(&db).await,
        vec![
            (key(series()[0].0), "imported".into()),
            (key(series()[0].0), "unchanged".into()),
            (key(series()[1].0), "imported".into()),
        ]
    );
    assert_ne!(tickets_checksum(&db.pool).await, after_first);
    let keys = ing.bucket.keys().await.unwrap();
    assert_eq!(
        keys,
        vec![
            key(&format!("processed/{}", series()[0].0)),
            key(&format!("processed/{}", series()[1].0))
        ]
    );
}
