//! First compressed answer: `cargo bench --bench first_answer -- --rows 1000000 --open 89470`
//! (`--samples 5`, `--window week`).
//!
//! On a generated store of `--rows` tickets with `--open` of them reopened (the national
//! scale of issue 19: a 52 MB week payload), the real `fleettickets serve` answers the
//! dashboard for a new key (a new `as_of` each time, so every request builds, serialises
//! and, when asked, compresses) with identity, gzip and brotli accepted, in turn. Prints
//! the median and worst time to the last byte, the bytes sent, and each compressed
//! answer's median against the identity one's. Database `ft_bench_first`, dropped after.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{DateTime, Utc};
use common::{arg, drop_store, fresh_store, percentile, reopen, write_snapshot};

const AS_OF: &str = "2026-06-16T10:00:00+03:00";
const ENCODINGS: [&str; 3] = ["identity", "gzip", "gzip, deflate, br"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = arg::<u64>("--rows", 1_000_000);
    let open = arg::<u64>("--open", 89_470);
    let samples = arg::<u64>("--samples", 5);
    let window = arg::<String>("--window", "week".into());
    let server_url = common::server_url();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("2026-06-16T071502.csv");
    let as_of: DateTime<Utc> = DateTime::parse_from_rfc3339(AS_OF)?.to_utc();
    write_snapshot(&path, rows, 1, as_of)?;
    let (db_url, pool, secs) = fresh_store(&server_url, "ft_bench_first", &path).await?;
    std::fs::remove_file(&path)?;
    reopen(&db_url, open).await?;
    sqlx::query("ANALYZE tickets.inc").execute(&pool).await?;
    println!("{rows} generated tickets imported in {secs:.0} s, {open} made open");
    let (server, client) = common::Server::start(&db_url, &dir.path().join("bucket")).await?;
    // Per encoding: the times (ms) and the last answer's size and encoding.
    let mut times = vec![Vec::new(); ENCODINGS.len()];
    let mut sent = vec![(0, String::new()); ENCODINGS.len()];
    for i in 0..samples {
        for (e, accept) in ENCODINGS.iter().enumerate() {
            // A key no request has built: as_of moves by a millisecond each time.
            let at = as_of + chrono::Duration::milliseconds((i * 3 + e as u64 + 1) as i64);
            let url = format!(
                "{}/api/v1/inc/dashboard?window={window}&as_of={}",
                server.base,
                at.to_rfc3339().replace('+', "%2B")
            );
            let t = Instant::now();
            let response = client
                .get(url)
                .header("accept-encoding", *accept)
                .send()
                .await?;
            let encoding = response
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("identity")
                .to_owned();
            let body = response.bytes().await?;
            times[e].push(t.elapsed().as_secs_f64() * 1000.0);
            sent[e] = (body.len(), encoding);
        }
    }
    println!("| accept-encoding | sent as | bytes | median ms | worst ms | median − identity's |");
    println!("|---|---|---:|---:|---:|---:|");
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            percentile(t, 0.5)
        })
        .collect();
    for (e, accept) in ENCODINGS.iter().enumerate() {
        println!(
            "| {accept} | {} | {} | {:.0} | {:.0} | {:+.0} ms |",
            sent[e].1,
            sent[e].0,
            medians[e],
            times[e].last().copied().unwrap_or(f64::NAN),
            medians[e] - medians[0]
        );
    }
    drop(server);
    pool.close().await;
    drop_store(&server_url, "ft_bench_first").await?;
    Ok(())
}
