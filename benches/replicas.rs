//! Replica benchmark: `cargo bench --bench replicas -- --rows 21312` (any row count).
//!
//! On a private PostgreSQL primary and a streaming hot standby that applies each commit
//! 2 s late (`recovery_min_apply_delay`), with two `fleettickets serve` replicas reading
//! from the standby: the time from an import's commit to both replicas serving it; then
//! cached dashboard requests/s with gzip from `wrk` through nginx balancing two replicas,
//! against nginx in front of one, in the same run (Debian packages `nginx` and `wrk`).

#[path = "../tests/api/cluster.rs"]
mod cluster;
#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cluster::{Nginx, Replicated, Serve};
use common::{arg, write_snapshot};
use fleettickets::config::DatabaseConfig;
use serde_json::Value;

const AS_OF: &str = "2026-06-16T10:00:00+03:00";

/// The `freshness.last_import_at` a replica's (cached) dashboard says.
async fn served_import(client: &reqwest::Client, url: &str) -> Option<DateTime<Utc>> {
    let body: Value = client.get(url).send().await.ok()?.json().await.ok()?;
    let at = body["freshness"]["last_import_at"].as_str()?;
    DateTime::parse_from_rfc3339(at).ok().map(|t| t.to_utc())
}

fn wrk(url: &str, seconds: u64) -> anyhow::Result<String> {
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s")])
        .args(["-H", "Accept-Encoding: gzip", url])
        .output()
        .map_err(|e| anyhow::anyhow!("wrk is not installed (apt-get install wrk): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .map(str::trim)
        .unwrap_or("?");
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .collect();
    anyhow::ensure!(errors.is_empty(), "wrk saw errors: {errors:?}");
    Ok(rps.to_owned())
}

/// Imports generated tickets on the primary; when it committed, and its `finished_at`.
async fn import(
    primary: &sqlx::PgPool,
    dir: &std::path::Path,
    rows: u64,
    seed: u64,
) -> anyhow::Result<(Instant, DateTime<Utc>)> {
    let as_of = DateTime::parse_from_rfc3339(AS_OF)?.to_utc();
    let path = dir.join(format!("2026-06-16T0715{seed:02}.csv"));
    write_snapshot(&path, rows, seed, as_of)?;
    let report = common::apply(primary, &path).await?;
    let committed = Instant::now();
    let finished: DateTime<Utc> =
        sqlx::query_scalar("SELECT finished_at FROM tickets.import_meta WHERE id = $1")
            .bind(report.import_id)
            .fetch_one(primary)
            .await?;
    Ok((committed, finished))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = arg::<u64>("--rows", 21_312);
    let imports = arg::<u64>("--imports", 5);
    let wrk_secs = arg::<u64>("--wrk-seconds", 10);
    let cluster =
        Replicated::start("2s").ok_or_else(|| anyhow::anyhow!("no PostgreSQL server binaries"))?;
    let primary_url = cluster.primary.url("fleettickets");
    let primary = fleettickets::db::migrate(&DatabaseConfig::new(&primary_url)).await?;
    import(&primary, cluster.path(), rows, 1).await?;
    let env = [
        ("DATABASE_URL", primary_url.clone()),
        ("DATABASE_READ_URL", cluster.standby.url("fleettickets")),
        ("INGEST_CRON", "off".to_owned()),
        (
            "BUCKET_DIR",
            cluster.path().join("bucket").display().to_string(),
        ),
    ];
    let binary = env!("CARGO_BIN_EXE_fleettickets");
    let replicas = [
        Serve::spawn(binary, cluster.path().join("a.log"), &env),
        Serve::spawn(binary, cluster.path().join("b.log"), &env),
    ];
    let client = reqwest::Client::builder().no_gzip().build()?;
    let query = format!(
        "/api/v1/inc/dashboard?window=week&as_of={}",
        AS_OF.replace('+', "%2B")
    );

    // Commit → both replicas serving the import (each polled every 5 ms).
    let mut times = Vec::new();
    for seed in 2..2 + imports {
        let (committed, finished) = import(&primary, cluster.path(), rows, seed).await?;
        let mut pending: Vec<&Serve> = replicas.iter().collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for r in pending {
                if served_import(&client, &r.url(&query)).await != Some(finished) {
                    still.push(r);
                }
            }
            pending = still;
            anyhow::ensure!(
                committed.elapsed() < Duration::from_secs(60),
                "the replicas did not serve the import"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(committed.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{rows} tickets, 2 s replay delay: import commit → both replicas serving it: median {:.2} s, min {:.2} s, max {:.2} s over {imports} imports",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
    );

    // Cached throughput through nginx: two replicas against one, same nginx settings.
    let path = "/api/v1/inc/dashboard?window=week";
    for r in &replicas {
        client.get(r.url(path)).send().await?; // warm each replica's cache
    }
    let two = Nginx::start(&[replicas[0].port, replicas[1].port], 2);
    let two_rps = wrk(&two.url(path), wrk_secs)?;
    drop(two);
    let one = Nginx::start(&[replicas[0].port], 2);
    let one_rps = wrk(&one.url(path), wrk_secs)?;
    drop(one);
    let ratio =
        two_rps.parse::<f64>().unwrap_or(f64::NAN) / one_rps.parse::<f64>().unwrap_or(f64::NAN);
    println!(
        "cached dashboard (gzip), wrk -t2 -c64 -d{wrk_secs}s through nginx (2 workers): two replicas {two_rps} req/s, one replica {one_rps} req/s => {ratio:.2}x on {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(())
}
