//! Faults survived and visible (the S3 server here, PostgreSQL in `faults_db.rs`): the
//! failure is reported, nothing partial is written, reads go on, and the service
//! recovers without a restart.

use std::time::Instant;

use fleettickets::ingest::bucket::Bucket;
use serde_json::Value;

use crate::app::TestApp;
use crate::bucket::series;
use crate::helpers::{test_data, tickets_checksum};
use crate::jobs::{admin_app, ADMIN};
use crate::proxy::{Fault, FaultProxy};
use crate::s3;

/// A dashboard at a fixed time: the same data gives the same answer.
const DASHBOARD: &str = "/api/v1/inc/dashboard?as_of=2026-06-16T10:00:00%2B03:00";

/// What the store holds: the tickets' checksum and the import records.
pub async fn stored(app: &TestApp) -> (String, Vec<(String, String)>) {
    let meta = sqlx::query_as("SELECT source_key, outcome FROM tickets.import_meta ORDER BY id")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    (tickets_checksum(&app.db.pool).await, meta)
}

/// Starts an import job and polls it to its end; the job and how long it took.
pub async fn import_job(app: &TestApp) -> (Value, std::time::Duration) {
    let started = Instant::now();
    let (status, location, body) = app.start_import(ADMIN).await;
    assert_eq!(status, 202, "{body}");
    let job = app.finished_job(&location.unwrap(), ADMIN).await;
    (job, started.elapsed())
}

#[tokio::test]
async fn s3_answering_500s_or_hanging_fails_the_import_cleanly_and_the_next_one_imports() {
    let moto = s3::shared_endpoint();
    let config = s3::new_bucket(moto).await;
    let proxy = FaultProxy::start(moto.trim_start_matches("http://").to_owned()).await;
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let app = admin_app(&[
        "--s3-endpoint",
        &endpoint,
        "--s3-bucket",
        &config.s3_bucket,
        "--s3-access-key-id",
        "test",
        "--s3-secret-access-key",
        "test",
        "--s3-max-retries",
        "1",
        "--s3-timeout-secs",
        "1",
    ])
    .await
    .authorized_as(ADMIN);
    app.import(&test_data("inc-sample.csv")).await;
    let (_, served) = app.get_json(DASHBOARD).await;
    assert_ne!(served["metrics"]["open_count"], 0, "{served}");
    // The snapshot is put straight into moto, past the proxy.
    let direct = Bucket::from_config(&config).unwrap();
    let (name, body) = &series()[0];
    let key = format!("automations/inc/{name}");
    direct
        .put_snapshot(name, body.clone().into_bytes())
        .await
        .unwrap();
    let before = stored(&app).await;

    for (n, fault) in [Fault::Http500, Fault::Hang].into_iter().enumerate() {
        proxy.set(fault);
        let (job, took) = import_job(&app).await;
        eprintln!("{fault:?}: the job failed after {took:?}");
        assert_eq!(job["status"], "failed", "{fault:?}: {job}");
        assert_eq!(job["error"], "bucket unavailable", "{fault:?}");
        assert_eq!(
            job["detail"],
            "the snapshot bucket is unreachable right now; retry shortly"
        );
        assert_eq!(
            app.metric("fleettickets_imports_total{outcome=\"bucket_error\"}")
                .await,
            (n + 1) as f64
        );
        assert_eq!(stored(&app).await, before, "{fault:?}: nothing written");
        assert!(direct.keys().await.unwrap().contains(&key), "still pending");
        // Reads are served from the store as it was.
        let (status, body) = app.get_json(DASHBOARD).await;
        assert_eq!(status, 200, "{fault:?}");
        assert_eq!(body["metrics"], served["metrics"], "{fault:?}");
        assert_eq!(app.get("/api/v1/freshness").await.status(), 200);
    }

    proxy.restore();
    let (job, took) = import_job(&app).await;
    eprintln!("restored: the next job imported in {took:?}");
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["report"]["snapshots"][0]["outcome"], "imported");
    assert_eq!(job["report"]["snapshots"][0]["report"]["changes"]["new"], 3);
    let (job, _) = import_job(&app).await;
    assert_eq!(job["report"]["snapshots"], serde_json::json!([]), "once");
    let (_, meta) = stored(&app).await;
    assert_eq!(
        meta.iter().filter(|(k, _)| *k == key).collect::<Vec<_>>(),
        vec![&(key.clone(), "imported".to_owned())]
    );
    assert_eq!(
        direct.keys().await.unwrap(),
        vec![format!("automations/inc/processed/{name}")]
    );
}
