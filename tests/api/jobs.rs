//! Import jobs: `POST /api/v1/admin/import` answers 202 with the job's `Location`, the
//! job is polled to its report; one import at a time (409).

use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::app::{spawn_app_with, TestApp};
use crate::helpers::test_data;

pub const ADMIN: &str = "0123456789abcdef-admin";

/// The app with an admin token and these extra settings.
pub async fn admin_app(flags: &[&str]) -> TestApp {
    let tokens = format!("ops:admin:{ADMIN}");
    let mut all = vec!["--api-tokens", &tokens];
    all.extend(flags);
    spawn_app_with(&all).await
}

#[tokio::test]
async fn one_import_job_at_a_time_polled_to_its_report() {
    let app = admin_app(&[]).await;
    let inbox = app.bucket_dir.path().join("automations/inc");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(
        test_data("inc-sample.csv"),
        inbox.join("2026-06-16T071502.csv"),
    )
    .unwrap();
    // Another replica holds the importer's lock: refused, no job.
    let other = crate::helpers::writer_lock(&app.db.pool).await;
    let (status, location, body) = app.start_import(ADMIN).await;
    assert_eq!((status, location), (409, None));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("another import is running"),
        "{body}"
    );
    other.release().await;
    // A job held up by a lock on `import_meta` stays running meanwhile.
    let mut blocker = PgConnection::connect(&app.db.url).await.unwrap();
    let mut tx = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE tickets.import_meta IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (status, location, job) = app.start_import(ADMIN).await;
    assert_eq!((status, job["status"].as_str()), (202, Some("running")));
    let location = location.unwrap();
    assert_eq!(location, format!("/api/v1/admin/imports/{}", job["id"]));
    let (status, again, body) = app.start_import(ADMIN).await;
    assert_eq!((status, again.as_deref()), (409, Some(location.as_str())));
    assert_eq!(
        body["detail"],
        format!("import job {} is running; poll {location}", job["id"])
    );
    let running: Value = app.get_as(&location, ADMIN).await.json().await.unwrap();
    assert_eq!(running["status"], "running");
    assert!(running.get("finished_at").is_none());
    tx.rollback().await.unwrap();
    let done = app.finished_job(&location, ADMIN).await;
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["finished_at"].as_str().unwrap().ends_with("+03:00"));
    let snapshot = &done["report"]["snapshots"][0];
    assert_eq!(snapshot["outcome"], "imported");
    assert_eq!(snapshot["report"]["changes"]["new"], 386);
    assert!(inbox.join("processed/2026-06-16T071502.csv").exists());
    // Job ids are checked and looked up on this replica only.
    for (path, status, error) in [
        ("/api/v1/admin/imports/x1", 400, "invalid parameter `id`"),
        ("/api/v1/admin/imports/99", 404, "not found"),
    ] {
        let r = app.get_as(path, ADMIN).await;
        assert_eq!(r.status(), status, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], error, "{path}");
    }
}

#[tokio::test]
async fn a_job_whose_bucket_is_unreachable_fails_with_the_error() {
    // Nothing listens on port 1.
    let app = admin_app(&[
        "--s3-endpoint",
        "http://127.0.0.1:1",
        "--s3-max-retries",
        "0",
    ])
    .await;
    let (status, location, _) = app.start_import(ADMIN).await;
    assert_eq!(status, 202);
    let job = app.finished_job(&location.unwrap(), ADMIN).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"], "bucket unavailable", "{job}");
    assert!(job["detail"].as_str().unwrap().contains("retry"), "{job}");
    assert_eq!(
        app.metric("fleettickets_imports_total{outcome=\"bucket_error\"}")
            .await,
        1.0
    );
}
