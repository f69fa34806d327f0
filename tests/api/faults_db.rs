//! PostgreSQL lost under load: its connections cut at a proxy (down until restored) or
//! terminated by the server (as a restart does), while dashboard reads run and an
//! import is writing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::RETRY_AFTER;
use serde_json::Value;

use crate::app::{spawn_app_behind_proxy_with, TestApp};
use crate::faults::{import_job, stored};
use crate::helpers::{count, eventually, test_data};
use crate::jobs::ADMIN;
use crate::proxy::FaultProxy;

const READERS: usize = 8;

/// A reader's answer: status, `Retry-After` and body; or why there was none.
type Answer = Result<(u16, Option<String>, Value), String>;

/// Readers that keep asking routes that read the database, recording every answer.
struct Load {
    stop: Arc<AtomicBool>,
    unavailable: Arc<AtomicUsize>,
    answers: Arc<Mutex<Vec<Answer>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(app: &TestApp, ticket: &str) -> Load {
        let load = Load {
            stop: Arc::default(),
            unavailable: Arc::default(),
            answers: Arc::default(),
            readers: Vec::new(),
        };
        let paths = [
            "/api/v1/freshness".to_owned(),
            format!("/api/v1/inc/tickets/{ticket}"),
            "/api/v1/clusters".to_owned(),
        ];
        let readers = (0..READERS)
            .map(|r| {
                let (client, base, paths) =
                    (app.client.clone(), app.address.clone(), paths.clone());
                let (stop, unavailable, answers) = (
                    load.stop.clone(),
                    load.unavailable.clone(),
                    load.answers.clone(),
                );
                tokio::spawn(async move {
                    let mut i = r;
                    while !stop.load(Ordering::SeqCst) {
                        // A new `as_of` each time: a cache miss, so the window is queried.
                        let path = match i % 4 {
                            3 => format!(
                                "/api/v1/inc/dashboard?as_of=2026-06-16T10:{:02}:{:02}Z",
                                i / 60 % 60,
                                i % 60
                            ),
                            k => paths[k].clone(),
                        };
                        i += READERS;
                        let answer = match client.get(format!("{base}{path}")).send().await {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                let retry = r
                                    .headers()
                                    .get(RETRY_AFTER)
                                    .map(|v| v.to_str().unwrap().to_owned());
                                let body = r.json().await.map_err(|e| format!("{path}: {e}"));
                                body.map(|b| (status, retry, b))
                            }
                            Err(e) => Err(format!("{path}: {e}")),
                        };
                        if matches!(answer, Ok((503, _, _))) {
                            unavailable.fetch_add(1, Ordering::SeqCst);
                        }
                        answers.lock().unwrap().push(answer);
                    }
                })
            })
            .collect();
        Load { readers, ..load }
    }

    /// Waits until `n` more answers were 503s than when called.
    async fn until_unavailable(&self, n: usize) {
        let target = self.unavailable.load(Ordering::SeqCst) + n;
        eventually(Duration::from_secs(60), "the readers' 503s", || async {
            self.unavailable.load(Ordering::SeqCst) >= target
        })
        .await;
    }

    /// Stops the readers; every answer, checked: a 200, or a 503 with `Retry-After`
    /// naming the database. The number of 503s.
    async fn finish(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        for r in self.readers {
            r.await.unwrap();
        }
        let answers = std::mem::take(&mut *self.answers.lock().unwrap());
        let mut unavailable = 0;
        for answer in &answers {
            let (status, retry, body) = answer.as_ref().expect("never a dropped connection");
            match status {
                200 => {}
                503 => {
                    unavailable += 1;
                    assert_eq!(retry.as_deref(), Some("5"), "{body}");
                    assert_eq!(body["error"], "database unavailable", "{body}");
                }
                _ => panic!("{status}: {body}"),
            }
        }
        eprintln!("{} answers, {unavailable} of them 503", answers.len());
        unavailable
    }
}

/// The app (its pools behind a proxy) serving the sample, a 60,000-row snapshot pending
/// in its bucket folder (its path), and a ticket to read.
async fn app_with_a_big_snapshot() -> (TestApp, FaultProxy, std::path::PathBuf, String) {
    let tokens = format!("ops:admin:{ADMIN}");
    let (app, proxy) = spawn_app_behind_proxy_with(&["--api-tokens", &tokens]).await;
    let app = app.authorized_as(ADMIN);
    app.import(&test_data("inc-sample.csv")).await;
    let spec = fleettickets_gen::Spec {
        rows: 60_000,
        seed: 3,
        as_of: chrono::Utc::now(),
        truncated: false,
    };
    let inbox = app.bucket_dir.path().join("automations/inc");
    std::fs::create_dir_all(&inbox).unwrap();
    let snapshot = inbox.join("2026-06-16T071502.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&snapshot).unwrap());
    fleettickets_gen::write(&spec, &mut file).unwrap();
    drop(file);
    let ticket: String = sqlx::query_scalar("SELECT ticket_id FROM tickets.inc LIMIT 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    (app, proxy, snapshot, ticket)
}

/// Starts an import job and waits until its COPY is writing; the job's location.
async fn an_import_writing(app: &TestApp) -> String {
    let (status, location, body) = app.start_import(ADMIN).await;
    assert_eq!(status, 202, "{body}");
    let location = location.unwrap();
    let copying = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY inc_staging%' AND state = 'active'";
    eventually(
        Duration::from_secs(60),
        "the import's COPY seen writing",
        || async {
            let seen = count(&app.db.pool, copying).await > 0;
            // A COPY that finished between two polls would never be seen: say so.
            if !seen {
                let job: serde_json::Value =
                    app.get_as(&location, ADMIN).await.json().await.unwrap();
                assert_eq!(
                    job["status"], "running",
                    "the import ended before its COPY was seen: {job}"
                );
            }
            seen
        },
    )
    .await;
    location
}

/// The import in flight fails naming the database, counted, and leaves nothing: the
/// store as `before`, the snapshot pending. How long since `fault` it took.
async fn import_failed(
    app: &TestApp,
    location: &str,
    fault: Instant,
    before: &(String, Vec<(String, String)>),
    snapshot: &std::path::Path,
) -> Duration {
    let job = app.finished_job(location, ADMIN).await;
    let took = fault.elapsed();
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"], "database unavailable", "{job}");
    assert_eq!(
        app.metric("fleettickets_imports_total{outcome=\"db_error\"}")
            .await,
        1.0
    );
    assert_eq!(&stored(app).await, before, "nothing partial");
    assert!(snapshot.exists(), "still pending");
    took
}

/// Once the database is back, the next job imports the snapshot once.
async fn imported_once(
    app: &TestApp,
    before: &(String, Vec<(String, String)>),
    snapshot: &std::path::Path,
) {
    let (job, took) = import_job(app).await;
    eprintln!("the next job imported in {took:?}");
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["report"]["snapshots"][0]["outcome"], "imported");
    let (_, meta) = stored(app).await;
    assert_eq!(meta.len(), before.1.len() + 1);
    assert_eq!(meta.last().unwrap().1, "imported");
    assert!(!snapshot.exists(), "archived");
}

/// How long until a read that needs the database is served again.
async fn until_reads_recover(app: &TestApp) -> Duration {
    let started = Instant::now();
    eventually(Duration::from_secs(60), "reads served again", || async {
        app.get("/api/v1/freshness").await.status() == 200
    })
    .await;
    started.elapsed()
}

#[tokio::test]
async fn a_database_cut_under_load_is_503s_then_recovered_and_the_import_leaves_nothing() {
    let (app, proxy, snapshot, ticket) = app_with_a_big_snapshot().await;
    let before = stored(&app).await;
    let load = Load::start(&app, &ticket);
    let location = an_import_writing(&app).await;
    let cut = Instant::now();
    proxy.cut();
    let failed = import_failed(&app, &location, cut, &before, &snapshot).await;
    // Every reader has met the outage several times.
    load.until_unavailable(READERS * 4).await;
    let outage = cut.elapsed();
    proxy.restore();
    let recovered = until_reads_recover(&app).await;
    eprintln!("cut for {outage:?}: the import failed {failed:?} after the cut, reads recovered {recovered:?} after the restore");
    assert!(load.finish().await >= READERS * 4);
    imported_once(&app, &before, &snapshot).await;
}

#[tokio::test]
async fn database_connections_terminated_under_load_are_survived() {
    let (app, _proxy, snapshot, ticket) = app_with_a_big_snapshot().await;
    let before = stored(&app).await;
    let load = Load::start(&app, &ticket);
    let location = an_import_writing(&app).await;
    let terminated = Instant::now();
    // As a restart does: every backend of the database but this one ends.
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(ended >= 2, "the import's connections at least");
    let recovered = until_reads_recover(&app).await;
    let failed = import_failed(&app, &location, terminated, &before, &snapshot).await;
    eprintln!("terminated {ended}: reads served {recovered:?}, the import failed {failed:?} later");
    load.finish().await;
    imported_once(&app, &before, &snapshot).await;
}
