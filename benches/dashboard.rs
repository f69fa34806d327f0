//! Dashboard benchmark: `cargo bench --bench dashboard -- --rows 21312 [--series 48]`.
//!
//! On generated data (one export of `--rows` tickets, or `--series N` hourly exports of
//! the generator's series imported in order: a busier store whose windows hold more
//! closures), in one run: checks that the SQL function the API replaces
//! (`bench/fn_inc_dashboard.sql`, loaded only here) returns the same numbers and ids as
//! the API; times uncached API requests against the function, and the miss path's split
//! in-process through the server's own functions (query, compute, JSON; the rest of an
//! HTTP miss is the transfer); measures cached
//! requests/s with gzip from `wrk` on loopback (Debian package `wrk`; skipped if
//! missing); and reads the server's resident memory. The server is the real binary
//! (`fleettickets serve`), over the database `ft_bench_dash`, dropped after.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use common::{arg, drop_store, fresh_store, memory_mb, percentile, write_series, write_snapshot};
use fleettickets::dashboard::freshness::{Freshness, ImportState};
use fleettickets::dashboard::recent::{self, Recent};
use fleettickets::dashboard::replay::{HistorySpan, Replay};
use fleettickets::dashboard::{self, render, Rows, Rules, WindowRows};
use fleettickets::params;
use fleettickets::read;
use serde_json::Value;
use sqlx::PgPool;

/// The (first) export's time.
const AS_OF: &str = "2026-06-16T10:00:00+03:00";

/// The exports to import, in order: one of `rows` tickets, or `series` hourly ones.
fn exports(
    dir: &Path,
    rows: u64,
    series: u32,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Vec<PathBuf>> {
    if series <= 1 {
        let path = dir.join("2026-06-16T071502.csv");
        write_snapshot(&path, rows, 1, as_of)?;
        return Ok(vec![path]);
    }
    write_series(dir, rows, series, as_of)
}

/// The live miss path in-process, through the functions the server runs: with the
/// window's rows queried (the query, the payload, its JSON), then with them read from
/// the in-memory recent tickets (the payload, its JSON), in ms.
async fn split_ms(pool: &PgPool, query: &str) -> anyhow::Result<[f64; 5]> {
    let request = params::parse(query, Utc::now())?;
    let rules = Rules {
        sla_target_hours: 24.0,
        stale_after: chrono::Duration::hours(3),
    };
    let open: dashboard::SharedRows = Arc::new(read::tickets::open_tickets(pool).await?);
    let heads: Vec<String> = open.iter().map(render::open_head).collect();
    let since = recent::since(request.window.as_of);
    let held = read::tickets::recent_tickets(pool, since).await?;
    let held = WindowRows::Recent(Arc::new(Recent::new(since, held, HashMap::new())));
    let t = Instant::now();
    let queried = read::tickets::window_tickets(pool, &request).await?;
    let mut times = vec![ms(t)];
    for window in [queried.into(), held] {
        let t = Instant::now();
        let rows = Rows {
            open: open.clone(),
            window,
            replay: Replay::at(request.window.as_of, HistorySpan::default()),
        };
        let at = request.window.as_of;
        let freshness = Freshness::at(&ImportState::default(), at, rules.stale_after);
        let payload = dashboard::compute(rows, &request, freshness, &rules);
        times.push(ms(t));
        let t = Instant::now();
        std::hint::black_box(render::write_json(&payload, &heads, None)?);
        times.push(ms(t));
    }
    Ok(times.try_into().expect("five times"))
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The same request for the API (query string) and the SQL function (arguments).
struct Case {
    query: String,
    window: &'static str,
    cluster: Option<Vec<String>>,
}

fn cases(clusters: &[String]) -> Vec<Case> {
    let c = |window, cluster: Option<Vec<String>>| {
        let mut query = format!("window={window}");
        for name in cluster.iter().flatten() {
            query.push_str(&format!("&cluster={}", name.replace(' ', "%20")));
        }
        Case {
            query,
            window,
            cluster,
        }
    };
    vec![
        c("today", None),
        c("week", None),
        c("month", None),
        c("week", Some(clusters.iter().take(2).cloned().collect())),
    ]
}

async fn sql_payload(pool: &PgPool, case: &Case, as_of: &str) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar(
        "SELECT reporting.fn_inc_dashboard($1, NULL, $2, NULL, NULL, $3::timestamptz)::text",
    )
    .bind(&case.cluster)
    .bind(case.window)
    .bind(as_of)
    .fetch_one(pool)
    .await?)
}

fn ids(v: &Value, set: &str) -> Vec<String> {
    v[set]["features"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| f["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Numbers compared as numbers (the SQL keeps numeric scale: 0.2000 = 0.2).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = arg::<u64>("--rows", 21_312);
    let series = arg::<u32>("--series", 1);
    let samples = arg::<u64>("--samples", 30) as usize;
    let wrk_secs = arg::<u64>("--wrk-seconds", 10);
    let server_url = common::server_url();
    let dir = tempfile::tempdir()?;
    let first = DateTime::parse_from_rfc3339(AS_OF)?.with_timezone(&Utc);
    let paths = exports(dir.path(), rows, series, first)?;
    let (db_url, pool, secs) = fresh_store(&server_url, "ft_bench_dash", &paths[0]).await?;
    let t = Instant::now();
    for path in &paths[1..] {
        common::apply(&pool, path).await?;
        std::fs::remove_file(path)?;
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inc")
        .fetch_one(&pool)
        .await?;
    println!(
        "{} export(s) of {rows} generated tickets imported in {:.1} s: {total} tickets",
        paths.len(),
        secs + t.elapsed().as_secs_f64()
    );
    // Requests are made at the last export's time.
    let as_of = first + chrono::Duration::hours(i64::from(series.max(1) - 1));
    let as_of_text = fleettickets::eat::rfc3339(as_of);
    let as_of_text = as_of_text.as_str();
    sqlx::raw_sql(include_str!("../bench/fn_inc_dashboard.sql"))
        .execute(&pool)
        .await?;
    sqlx::query("ANALYZE tickets.inc").execute(&pool).await?;

    let (server, client) = common::Server::start(&db_url, &dir.path().join("bucket")).await?;
    let base = server.base.clone();

    let clusters = common::cluster_names(&client, &base).await?;
    let cases = cases(&clusters);
    let as_of_q = as_of_text.replace('+', "%2B");

    // Same numbers and ids.
    for case in &cases {
        let api: Value = client
            .get(format!(
                "{base}/api/v1/inc/dashboard?{}&as_of={as_of_q}",
                case.query
            ))
            .send()
            .await?
            .json()
            .await?;
        let sql: Value = serde_json::from_str(&sql_payload(&pool, case, as_of_text).await?)?;
        let metrics_equal = same(&api["metrics"], &sql["metrics"]);
        let ids_equal =
            ids(&api, "open") == ids(&sql, "open") && ids(&api, "closed") == ids(&sql, "closed");
        let freshness_equal = same(&api["freshness"], &sql["freshness"]);
        println!(
            "check {:<40} open {:>5} closed {:>5}: metrics {}, ids {}, freshness {}",
            case.query,
            api["metrics"]["open_count"],
            api["metrics"]["closed_count"],
            if metrics_equal { "equal" } else { "DIFFER" },
            if ids_equal { "equal" } else { "DIFFER" },
            if freshness_equal { "equal" } else { "DIFFER" },
        );
        anyhow::ensure!(
            metrics_equal && ids_equal && freshness_equal,
            "the API and the SQL function disagree"
        );
    }

    let (rss, _) = memory_mb(server.pid());
    println!("server memory after the checks (4 payloads cached): {rss:.1} MB resident");

    // Uncached latency: each request has its own as_of, so each is a cache miss. The
    // like-for-like figure is without compression (the function returns plain JSON); with
    // gzip the miss also compresses once.
    println!("\nuncached latency, median / p95 over {samples} requests ({rows} tickets):");
    for case in &cases[..3] {
        let (mut api_ms, mut gzip_ms, mut sql_ms) = (Vec::new(), Vec::new(), Vec::new());
        let mut bytes = (0, 0);
        for i in 0..samples {
            for (gzip, times) in [(false, &mut api_ms), (true, &mut gzip_ms)] {
                let as_of_i = (as_of
                    + chrono::Duration::milliseconds(2 * i as i64 + 1 + i64::from(gzip)))
                .to_rfc3339();
                let url = format!(
                    "{base}/api/v1/inc/dashboard?{}&as_of={}",
                    case.query,
                    as_of_i.replace('+', "%2B")
                );
                let request = client
                    .get(&url)
                    .header("accept-encoding", if gzip { "gzip" } else { "identity" });
                let t = Instant::now();
                let body = request.send().await?.bytes().await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(body.len() > 100, "a payload");
                if gzip {
                    bytes.1 = body.len()
                } else {
                    bytes.0 = body.len()
                }
            }
            let t = Instant::now();
            sql_payload(&pool, case, as_of_text).await?;
            sql_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        for v in [&mut api_ms, &mut gzip_ms, &mut sql_ms] {
            v.sort_by(f64::total_cmp);
        }
        let (a, s) = (percentile(&api_ms, 0.5), percentile(&sql_ms, 0.5));
        println!(
            "  {:<13} API {:>7.1} / {:>7.1} ms ({} KB)  API+gzip {:>7.1} / {:>7.1} ms ({} KB)  SQL function {:>7.1} / {:>7.1} ms  => API {:.1}x faster",
            case.query, a, percentile(&api_ms, 0.95), bytes.0 / 1024,
            percentile(&gzip_ms, 0.5), percentile(&gzip_ms, 0.95), bytes.1 / 1024,
            s, percentile(&sql_ms, 0.95), s / a
        );
    }

    // Where a miss goes: in-process medians, the rest of the HTTP median is transfer.
    println!("\nthe miss path in-process, median over {samples}: window queried (query, compute, JSON) | recent tickets in memory (compute, JSON)");
    for case in &cases[..3] {
        let mut parts = [(); 5].map(|()| Vec::new());
        for i in 0..samples {
            let t = (as_of + chrono::Duration::milliseconds(i as i64 + 1)).to_rfc3339();
            let query = format!("{}&as_of={}", case.query, t.replace('+', "%2B"));
            for (all, part) in parts.iter_mut().zip(split_ms(&pool, &query).await?) {
                all.push(part);
            }
        }
        let [q, c, j, mc, mj] = parts.map(|mut v| {
            v.sort_by(f64::total_cmp);
            percentile(&v, 0.5)
        });
        println!(
            "  {:<13} query {q:>6.2} ms, compute {c:>6.2} ms, JSON {j:>6.2} ms | compute {mc:>6.2} ms, JSON {mj:>6.2} ms",
            case.query
        );
    }

    // Cached throughput with gzip.
    let url = format!("{base}/api/v1/inc/dashboard?window=week");
    let gz = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await?;
    let size = gz.bytes().await?.len(); // compressed: this client does not decode
    match Command::new("wrk")
        .args([
            "-t2",
            "-c64",
            &format!("-d{wrk_secs}s"),
            "-H",
            "Accept-Encoding: gzip",
            &url,
        ])
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let rps = text
                .lines()
                .find(|l| l.starts_with("Requests/sec"))
                .unwrap_or("Requests/sec: ?");
            let errors: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
                .collect();
            println!(
                "\ncached, gzip ({} KB body), wrk -t2 -c64 -d{wrk_secs}s: {}; errors: {}",
                size / 1024,
                rps.trim(),
                if errors.is_empty() {
                    "none".to_owned()
                } else {
                    errors.join("; ")
                }
            );
        }
        Err(_) => {
            println!("\nwrk is not installed (apt-get install wrk): cached throughput skipped")
        }
    }
    let (rss, hwm) = memory_mb(server.pid());
    println!("server memory at the end (every sample's payload cached, up to the 256 MiB cap): {rss:.1} MB resident, {hwm:.1} MB peak");
    drop(server);
    pool.close().await;
    drop_store(&server_url, "ft_bench_dash").await?;
    Ok(())
}
