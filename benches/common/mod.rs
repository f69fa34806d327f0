//! What the benchmarks share (each is a crate of its own and includes this file): flags,
//! peak memory, and the real `fleettickets serve` on a free port.
#![allow(dead_code)] // no benchmark uses every helper

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `--name value`, else `default` (also when the value does not parse).
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
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
