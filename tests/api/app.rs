//! `spawn_app`: the real application on a random port, over a fresh database, a local
//! bucket folder and (optionally) a `FaultProxy` in front of PostgreSQL that a test can cut.

use fleettickets::config::Settings;
use fleettickets::startup::Application;

use crate::helpers::{test_db, TestDb};
use crate::proxy::FaultProxy;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub bucket_dir: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Every request of this app's client sends `Authorization: Bearer <token>`.
    pub fn authorized_as(mut self, token: &str) -> TestApp {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = format!("Bearer {token}").parse().unwrap();
        headers.insert(reqwest::header::AUTHORIZATION, value);
        self.client = client().default_headers(headers).build().unwrap();
        self
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the app answers")
    }

    /// GET with `Authorization: Bearer <token>`.
    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the app answers")
    }

    /// GET with these extra headers (`If-None-Match`, `Accept-Encoding`, …).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        headers
            .iter()
            .fold(self.client.get(self.url(path)), |r, (name, value)| {
                r.header(*name, *value)
            })
            .send()
            .await
            .expect("the app answers")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.expect("a JSON body"))
    }

    /// Imports a file as the CLI would, then waits until the app serves it (the app hears
    /// of the import through NOTIFY and reloads its open set).
    pub async fn import(&self, path: &std::path::Path) -> fleettickets::ingest::ImportReport {
        let report =
            crate::helpers::import_path(&self.db.pool, path, fleettickets::ingest::Mode::Apply)
                .await
                .unwrap();
        let expected = crate::helpers::count(
            &self.db.pool,
            "SELECT count(*) FROM tickets.inc WHERE is_actionable",
        )
        .await;
        for _ in 0..100 {
            let (_, body) = self.get_json("/api/v1/inc/dashboard").await;
            if body["metrics"]["open_count"].as_i64() == Some(expected) {
                return report;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the app did not pick up the import");
    }

    /// `POST /api/v1/admin/import` as `token`: the status, the `Location` and the body.
    pub async fn start_import(&self, token: &str) -> (u16, Option<String>, serde_json::Value) {
        let r = self
            .client
            .post(self.url("/api/v1/admin/import"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the app answers");
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            r.status().as_u16(),
            location,
            r.json().await.expect("a JSON body"),
        )
    }

    /// Polls an import job until it is no longer running; its last body.
    pub async fn finished_job(&self, location: &str, token: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            let r = self.get_as(location, token).await;
            assert_eq!(r.status(), 200, "{location}");
            let job: serde_json::Value = r.json().await.unwrap();
            if job["status"] != "running" {
                return job;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the job at {location} still running after 300 s: {job}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Prometheus counter value for a line prefix, e.g. `fleettickets_dashboard_cache_total{outcome="hit"}`.
    pub async fn metric(&self, prefix: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.unwrap();
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0.0, |v| v.parse().unwrap())
    }
}

/// The app with these extra settings (flags as `serve` takes them).
pub async fn spawn_app_with(flags: &[&str]) -> TestApp {
    let db = test_db().await;
    let url = db.url.clone();
    spawn_on(db, url, flags).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A second app on `app`'s database with these settings (another replica of its store).
pub async fn spawn_beside(app: &TestApp, flags: &[&str]) -> TestApp {
    let db = TestDb {
        pool: app.db.pool.clone(),
        url: app.db.url.clone(),
    };
    spawn_on(db, app.db.url.clone(), flags).await
}

async fn spawn_on(db: TestDb, database_url: String, flags: &[&str]) -> TestApp {
    let bucket_dir = tempfile::tempdir().unwrap();
    let defaults = [
        ("--database-url", database_url),
        ("--listen-addr", "127.0.0.1:0".into()),
        ("--ingest-cron", "off".into()),
        ("--bucket-dir", bucket_dir.path().display().to_string()),
        ("--api-tokens", String::new()),
    ];
    // The test's own flags win over these defaults (the environment's never apply).
    let mut all: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    for (flag, value) in defaults {
        if !flags.contains(&flag) {
            all.extend([flag.to_owned(), value]);
        }
    }
    let settings = Settings::from_flags(all).expect("valid test settings");
    let app = Application::build(&settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: client().build().unwrap(),
        db,
        bucket_dir,
    }
}

/// No automatic decompression: the tests see the bytes and headers as sent.
fn client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().no_gzip()
}

/// The app reaching its database through a `FaultProxy`.
pub async fn spawn_app_behind_proxy() -> (TestApp, FaultProxy) {
    behind_proxy(false, &[]).await
}

/// `spawn_app_behind_proxy` with these extra settings.
pub async fn spawn_app_behind_proxy_with(flags: &[&str]) -> (TestApp, FaultProxy) {
    behind_proxy(false, flags).await
}

/// The app whose primary (`DATABASE_URL`: imports, locks, LISTEN) is behind a
/// `FaultProxy`, its read path (`DATABASE_READ_URL`, the same database) direct.
pub async fn spawn_app_with_primary_behind_proxy() -> (TestApp, FaultProxy) {
    behind_proxy(true, &[]).await
}

async fn behind_proxy(read_direct: bool, extra: &[&str]) -> (TestApp, FaultProxy) {
    let db = test_db().await;
    let proxy = FaultProxy::start("127.0.0.1:5432".into()).await;
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let via = format!("postgres://postgres@127.0.0.1:{}/{name}", proxy.port);
    let direct = db.url.clone();
    let mut flags = vec!["--db-acquire-timeout-secs", "1"];
    if read_direct {
        flags.extend(["--database-read-url", &direct]);
    }
    flags.extend(extra);
    let app = spawn_on(db, via, &flags).await;
    (app, proxy)
}
