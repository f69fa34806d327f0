//! Cache memory: `cargo bench --bench cache_memory -- --secs 60 --cache-max-mb 256`
//! (`--connections 32`, `--rows 21312`, `--baseline false` to skip the run without cache).
//!
//! One real `fleettickets serve` over the database `ft_bench_cachemem` (the generator's
//! `--rows` tickets, recreated each run, dropped after) under `--connections` concurrent
//! clients cycling through uncached dashboards (a new `as_of` each: a new key), the cached
//! week dashboard, backlogs, nearest tickets, teams tables and tickets, each asking for
//! identity, gzip or brotli in turn. Prints the server's VmRSS every 5 s, its peak
//! (VmHWM) and the requests served; then the same load on a server without cache
//! (`CACHE_TTL_SECS=0`), the floor the cache's bound is added to.

#[path = "common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use common::{arg, drop_store, fresh_store, memory_mb, write_snapshot};

const AS_OF: &str = "2026-06-16T10:00:00+03:00";
const ENCODINGS: [&str; 3] = ["identity", "gzip", "br"];
const KINDS: u64 = 8;

/// The `n`th request of the run: its path and the encoding it accepts.
fn request(n: u64, as_of: DateTime<Utc>, ids: &[String]) -> (String, &'static str) {
    let round = n / KINDS;
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    // A new instant per round: every uncached request is a key no one asked for yet.
    let fresh = stamp(as_of - chrono::Duration::seconds(round as i64));
    let window = ["today", "week", "month"][(round % 3) as usize];
    let path = match n % KINDS {
        0 | 1 => format!("/api/v1/inc/dashboard?window={window}&as_of={fresh}"),
        2 => "/api/v1/inc/dashboard?window=week".into(),
        3 => {
            let to = as_of - chrono::Duration::hours((round % 48) as i64);
            let from = to - chrono::Duration::days(7);
            format!("/api/v1/inc/backlog?from={}&to={}", stamp(from), stamp(to))
        }
        4 => {
            let lat = -1.29 + (round % 50) as f64 * 0.01;
            format!("/api/v1/inc/nearest?lat={lat:.2}&lon=36.82&limit=20")
        }
        5 => {
            let by = ["team", "owner"][(round % 2) as usize];
            format!("/api/v1/inc/teams?by={by}&window={window}&as_of={fresh}")
        }
        6 => "/api/v1/inc/teams?window=week".into(),
        _ => format!("/api/v1/inc/tickets/{}", ids[(round as usize) % ids.len()]),
    };
    (path, ENCODINGS[(round % 3) as usize])
}

/// Runs the load for `secs` against `base`; returns the requests answered 200, the
/// other answers, and the server's VmRSS every 5 s.
async fn load(
    client: &reqwest::Client,
    base: &str,
    pid: u32,
    secs: u64,
    connections: usize,
    ids: Arc<Vec<String>>,
) -> anyhow::Result<(u64, u64, Vec<(u64, f64)>)> {
    let as_of = DateTime::parse_from_rfc3339(AS_OF)?.to_utc();
    let next = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, base, next, ids) =
                (client.clone(), base.to_owned(), next.clone(), ids.clone());
            tokio::spawn(async move {
                let (mut ok, mut other) = (0u64, 0u64);
                while Instant::now() < until {
                    let (path, encoding) =
                        request(next.fetch_add(1, Ordering::Relaxed), as_of, &ids);
                    let sent = client
                        .get(format!("{base}{path}"))
                        .header("accept-encoding", encoding)
                        .timeout(Duration::from_secs(60))
                        .send()
                        .await;
                    let answered = match sent {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if answered {
                        ok += 1;
                    } else {
                        other += 1;
                    }
                }
                (ok, other)
            })
        })
        .collect();
    let mut rss = vec![(0, memory_mb(pid).0)];
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    for t in (5..=secs).step_by(5) {
        tick.tick().await;
        rss.push((t, memory_mb(pid).0));
    }
    let (mut ok, mut other) = (0, 0);
    for w in workers {
        let (o, x) = w.await?;
        ok += o;
        other += x;
    }
    Ok((ok, other, rss))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = arg::<u64>("--secs", 60);
    let connections = arg::<usize>("--connections", 32);
    let max_mb = arg::<u64>("--cache-max-mb", 256);
    let rows = arg::<u64>("--rows", 21_312);
    let baseline = arg::<bool>("--baseline", true);
    let server_url = common::server_url();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("2026-06-16T071502.csv");
    write_snapshot(
        &path,
        rows,
        1,
        DateTime::parse_from_rfc3339(AS_OF)?.to_utc(),
    )?;
    let (db_url, pool, _) = fresh_store(&server_url, "ft_bench_cachemem", &path).await?;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT ticket_id FROM tickets.inc ORDER BY ticket_id LIMIT 500")
            .fetch_all(&pool)
            .await?;
    let ids = Arc::new(ids);
    let max = max_mb.to_string();
    let mut runs = vec![("cache on", vec![("CACHE_MAX_MB", max.as_str())])];
    if baseline {
        runs.push(("cache off", vec![("CACHE_TTL_SECS", "0")]));
    }
    for (name, env) in runs {
        let (server, client) =
            common::Server::start_with(&db_url, &dir.path().join("bucket"), &env).await?;
        let (ok, other, rss) = load(
            &client,
            &server.base,
            server.pid(),
            secs,
            connections,
            ids.clone(),
        )
        .await?;
        let (_, peak) = memory_mb(server.pid());
        let series: Vec<String> = rss.iter().map(|(t, mb)| format!("{t} s {mb:.0}")).collect();
        println!(
            "{name} (CACHE_MAX_MB={max_mb}), {connections} connections, {secs} s: {ok} answers ({:.0}/s), {other} others; \
             VmRSS MB: {}; peak {peak:.0} MB",
            ok as f64 / secs as f64,
            series.join(", ")
        );
        drop(server);
    }
    pool.close().await;
    drop_store(&server_url, "ft_bench_cachemem").await?;
    Ok(())
}
