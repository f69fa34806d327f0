//! What the benchmarks share (each is a crate of its own and includes this file): flags,
//! peak memory, and the real `fleettickets serve` on a free port.
#![allow(dead_code)] // no benchmark uses every helper

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use fleettickets::config::DatabaseConfig;
use fleettickets::db::lock::IngestLock;
use fleettickets::ingest::{self, Source};
use fleettickets_gen as generate;
use sqlx::{Connection, PgConnection, PgPool};

/// `--name value`, else `default` (also when the value does not parse).
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

/// The PostgreSQL server the stores are made on (`TEST_DATABASE_URL`, as the tests).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Peak resident set size of this process, from /proc (Linux).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// `VmRSS` and `VmHWM` of a process, in MB.
pub fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The value at fraction `p` of `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A `fleettickets serve` process (open API, no schedule unless `start_with` sets one),
/// killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts the server on `database_url` and waits until `/readyz` answers. The client
    /// does no automatic decompression: requests say themselves what they accept.
    pub async fn start(
        database_url: &str,
        bucket_dir: &Path,
    ) -> anyhow::Result<(Server, reqwest::Client)> {
        Server::start_with(database_url, bucket_dir, &[]).await
    }

    /// `start`, with `env` set over the defaults (e.g. an `INGEST_CRON`).
    pub async fn start_with(
        database_url: &str,
        bucket_dir: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<(Server, reqwest::Client)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let server = Server {
            child: Command::new(env!("CARGO_BIN_EXE_fleettickets"))
                .arg("serve")
                .env("DATABASE_URL", database_url)
                .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
                .env("INGEST_CRON", "off")
                .env("BUCKET_DIR", bucket_dir)
                .env("API_TOKENS", "")
                .env("RUST_LOG", "warn")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .spawn()?,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::builder().no_gzip().build()?;
        for _ in 0..100 {
            if client
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok((server, client))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The generator's export of `rows` tickets (`seed`, as of `as_of`), written to `path`.
pub fn write_snapshot(
    path: &Path,
    rows: u64,
    seed: u64,
    as_of: DateTime<Utc>,
) -> anyhow::Result<()> {
    let spec = generate::Spec {
        rows,
        seed,
        as_of,
        truncated: false,
    };
    generate::write(&spec, std::io::BufWriter::new(std::fs::File::create(path)?))?;
    Ok(())
}

/// The generator's series of `snapshots` hourly exports of `rows` tickets (3 % changing
/// an hour, the first as of `as_of`), written into `dir`: their paths, in order.
pub fn write_series(
    dir: &Path,
    rows: u64,
    snapshots: u32,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Vec<PathBuf>> {
    let spec = generate::SeriesSpec {
        base: generate::Spec {
            rows,
            seed: 1,
            as_of,
            truncated: false,
        },
        snapshots,
        change_rate: 0.03,
        identical_at: None,
        stale_at: None,
    };
    let mut paths = Vec::new();
    generate::series(&spec, |name, bytes| {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        paths.push(path);
        Ok(())
    })?;
    Ok(paths)
}

/// The database `name` on `server_url` made anew, migrated, and `path` imported into it:
/// its URL, its pool and the import's seconds.
pub async fn fresh_store(
    server_url: &str,
    name: &str,
    path: &Path,
) -> anyhow::Result<(String, PgPool, f64)> {
    drop_store(server_url, name).await?;
    let url = format!("{server_url}/{name}");
    let pool = fleettickets::db::migrate(&DatabaseConfig::new(url.clone())).await?;
    let t = std::time::Instant::now();
    apply(&pool, path).await?;
    Ok((url, pool, t.elapsed().as_secs_f64()))
}

/// Reopens the most recently created closed tickets of the store at `db_url` until
/// `open` are open: the generator's backlog is crew-sized (~2,600), a national one is
/// not. Their points are already resolved.
pub async fn reopen(db_url: &str, open: u64) -> anyhow::Result<()> {
    // On its own connection: the pool's statement timeout is for the read path.
    let mut conn = PgConnection::connect(db_url).await?;
    sqlx::raw_sql(&format!(
        "SET statement_timeout = 0;
         UPDATE tickets.inc SET is_actionable = true, normalized_status = 'OPEN', closed_at = NULL
         WHERE ticket_id IN (SELECT ticket_id FROM tickets.inc WHERE NOT is_actionable
                             ORDER BY created_at_service DESC NULLS LAST
                             LIMIT greatest(0, {open} - (SELECT count(*) FROM tickets.inc WHERE is_actionable)))"
    ))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// The ingest lock, as a writer takes it.
pub async fn writer_lock(pool: &PgPool) -> anyhow::Result<IngestLock> {
    Ok(IngestLock::acquire_from(pool, Duration::from_secs(60), || {}).await?)
}

/// Imports a snapshot file as `fleettickets import --inc-csv FILE --apply` does.
pub async fn apply(pool: &PgPool, path: &Path) -> anyhow::Result<ingest::ImportReport> {
    let lock = writer_lock(pool).await?;
    let report = ingest::import_file(pool, path, Source::local_file(path), Some(&lock)).await;
    lock.release().await;
    Ok(report?)
}

/// Drops the database `name` on `server_url`, if there is one.
pub async fn drop_store(server_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(&format!("{server_url}/postgres")).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}

/// The cluster names `/api/v1/clusters` lists.
pub async fn cluster_names(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<String>> {
    let clusters: Vec<serde_json::Value> = client
        .get(format!("{base}/api/v1/clusters"))
        .send()
        .await?
        .json()
        .await?;
    Ok(clusters
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect())
}
