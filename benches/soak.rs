//! Soak: `cargo bench --bench soak --profile dev -- --secs 60` (`--workers 8`, `--rows 21312`,
//! `--log <the server's RUST_LOG>`).
//!
//! One real `fleettickets serve` over the database `ft_bench_soak` (recreated each run)
//! and a local bucket folder, ingesting on `INGEST_CRON="*/5 * * * * *"`, under `--workers`
//! concurrent clients cycling through cached and uncached dashboards, tickets, the
//! backlog, Grafana queries, nearest tickets and bad requests, while the next snapshot of
//! the generator's hourly series (change rate 0.03) is dropped into the bucket every 5 s.
//! Prints the requests and statuses per kind, p50/p99 latency, the imports recorded in
//! `tickets.import_meta` and the server's VmRSS every 10 s; exits non-zero on any
//! unexpected status (or transport error, or a dropped snapshot not imported).

#[path = "common/mod.rs"]
mod common;
#[path = "soak/load.rs"]
mod load;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{arg, drop_store, fresh_store, memory_mb, percentile, write_series};
use fleettickets::ingest;
use load::{Kind, Mix};
use serde_json::Value;

const AS_OF: &str = "2026-06-16T10:00:00+03:00";
const DROP_EVERY: Duration = Duration::from_secs(5);

/// One request: its kind, status (0: a transport error), whether expected (status and,
/// for an error, its JSON shape), milliseconds.
type Sample = (Kind, u16, bool, f64);

async fn worker(
    client: reqwest::Client,
    base: String,
    mix: Arc<Mix>,
    next: Arc<AtomicU64>,
    until: Instant,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    while Instant::now() < until {
        let r = mix.request(next.fetch_add(1, Ordering::Relaxed));
        let url = format!("{base}{}", r.path);
        let request = match &r.body {
            Some(body) => client.post(url).json(body),
            None => client.get(url),
        };
        let t = Instant::now();
        // A hang shows as a transport error, not as a stuck run.
        let (status, body) = match request.timeout(Duration::from_secs(30)).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // The whole body, as a client reads it.
                response
                    .bytes()
                    .await
                    .map_or((0, None), |b| (status, Some(b)))
            }
            Err(_) => (0, None),
        };
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        // A client error is JSON `{error, detail}`.
        let shaped = status < 400
            || body
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v["error"].is_string() && v["detail"].is_string());
        samples.push((r.kind, status, shaped && r.expect.contains(&status), ms));
    }
    samples
}

fn report(samples: &[Sample]) -> u64 {
    // Per kind: the count per (status, expected), and the latencies.
    type Seen = (BTreeMap<(u16, bool), u64>, Vec<f64>);
    let mut by_kind: BTreeMap<Kind, Seen> = BTreeMap::new();
    for &(kind, status, expected, ms) in samples {
        let entry = by_kind.entry(kind).or_default();
        *entry.0.entry((status, expected)).or_default() += 1;
        entry.1.push(ms);
    }
    let mut unexpected = 0;
    println!("| kind | requests | statuses | p50 ms | p99 ms |");
    println!("|---|---:|---|---:|---:|");
    for (kind, (statuses, mut ms)) in by_kind {
        ms.sort_by(f64::total_cmp);
        let seen: Vec<String> = statuses
            .iter()
            .map(|(&(s, expected), n)| match (s, expected) {
                (0, _) => format!("transport error (unexpected) x{n}"),
                (s, false) => format!("{s} (unexpected) x{n}"),
                (s, true) => format!("{s} x{n}"),
            })
            .collect();
        unexpected += statuses
            .iter()
            .filter(|(&(_, expected), _)| !expected)
            .map(|(_, n)| n)
            .sum::<u64>();
        println!(
            "| {kind:?} | {} | {} | {:.1} | {:.1} |",
            ms.len(),
            seen.join(", "),
            percentile(&ms, 0.5),
            percentile(&ms, 0.99)
        );
    }
    unexpected
}

/// Prints the imports recorded, with the seconds from each snapshot's drop (by file
/// name) to its import's commit; returns how many were `imported`.
async fn imports(
    db: &sqlx::PgPool,
    dropped_at: &HashMap<String, DateTime<Utc>>,
) -> anyhow::Result<i64> {
    type Row = (i64, String, String, i64, i64, i64, DateTime<Utc>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, regexp_replace(source_key, '^.*/', ''), outcome, rows_kept, inserted, updated,
                finished_at
         FROM tickets.import_meta ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    println!("| import | snapshot | outcome | rows kept | inserted | updated | drop → commit |");
    println!("|---:|---|---|---:|---:|---:|---:|");
    for (id, key, outcome, kept, inserted, updated, at) in &rows {
        let lag = dropped_at.get(key).map_or("before the run".into(), |d| {
            format!("{:.1} s", (*at - *d).as_seconds_f64())
        });
        println!("| {id} | {key} | {outcome} | {kept} | {inserted} | {updated} | {lag} |");
    }
    Ok(rows.iter().filter(|r| r.2 == "imported").count() as i64)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = arg::<u64>("--secs", 60);
    let workers = arg::<usize>("--workers", 8);
    let rows = arg::<u64>("--rows", 21_312);
    // The server's log filter; the imports' slow-statement warnings are expected here.
    let log = arg::<String>("--log", "warn,sqlx::query=error".into());
    let server_url = common::server_url();

    let dir = tempfile::tempdir()?;
    let staged = dir.path().join("staged");
    let inbox = dir.path().join("bucket").join(ingest::bucket::PREFIX);
    std::fs::create_dir_all(&staged)?;
    std::fs::create_dir_all(&inbox)?;
    // One imported before the server starts, then one per 5 s but the last tick's.
    let drops = (secs / DROP_EVERY.as_secs()).saturating_sub(1) as u32;
    let as_of = chrono::DateTime::parse_from_rfc3339(AS_OF)?.to_utc();
    let snapshots = write_series(&staged, rows, drops + 1, as_of)?;

    let (db_url, db, _) = fresh_store(&server_url, "ft_bench_soak", &snapshots[0]).await?;

    let (server, client) = common::Server::start_with(
        &db_url,
        &dir.path().join("bucket"),
        &[("INGEST_CRON", "*/5 * * * * *"), ("RUST_LOG", &log)],
    )
    .await?;
    let base = server.base.clone();
    let clusters = common::cluster_names(&client, &base).await?;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT ticket_id FROM tickets.inc ORDER BY ticket_id LIMIT 500")
            .fetch_all(&db)
            .await?;
    let mix = Arc::new(Mix {
        ids,
        clusters,
        as_of: chrono::DateTime::parse_from_rfc3339(AS_OF)?.to_utc(),
    });

    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let mut rss = vec![(0, memory_mb(server.pid()).0)];
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let args = (client.clone(), base.clone(), mix.clone(), next.clone());
            tokio::spawn(worker(args.0, args.1, args.2, args.3, until))
        })
        .collect();
    // Drops a snapshot every 5 s (a rename: the server never sees half a file) and reads
    // the server's memory every 10 s.
    let mut dropped_at = HashMap::new();
    let mut tick = tokio::time::interval(DROP_EVERY);
    tick.tick().await;
    for n in 1..=secs / DROP_EVERY.as_secs() {
        tick.tick().await;
        if let Some(path) = snapshots.get(n as usize) {
            let name = path.file_name().expect("a file name");
            std::fs::rename(path, inbox.join(name))?;
            dropped_at.insert(name.to_string_lossy().into_owned(), Utc::now());
        }
        if (n * DROP_EVERY.as_secs()) % 10 == 0 {
            rss.push((n * DROP_EVERY.as_secs(), memory_mb(server.pid()).0));
        }
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The last drops' imports: up to 30 s more for the schedule to take them.
    let wait = Instant::now();
    let pending = || -> std::io::Result<bool> {
        Ok(std::fs::read_dir(&inbox)?
            .any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "csv"))))
    };
    while pending()? && wait.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    rss.push((started.elapsed().as_secs(), memory_mb(server.pid()).0));

    println!(
        "{} requests in {elapsed:.1} s ({:.0}/s) from {workers} workers, {rows}-row snapshots, {} dropped every {} s\n",
        samples.len(),
        samples.len() as f64 / elapsed,
        dropped_at.len(),
        DROP_EVERY.as_secs()
    );
    let unexpected = report(&samples);
    println!("\nunexpected statuses: {unexpected}\n");
    let imported = imports(&db, &dropped_at).await?;
    let rss: Vec<String> = rss
        .iter()
        .map(|(t, mb)| format!("{t} s {mb:.0} MB"))
        .collect();
    println!("\nserver VmRSS: {}", rss.join(", "));
    drop(server);
    db.close().await;
    drop_store(&server_url, "ft_bench_soak").await?;
    anyhow::ensure!(unexpected == 0, "{unexpected} unexpected statuses");
    anyhow::ensure!(
        imported == dropped_at.len() as i64 + 1,
        "{imported} imports for {} snapshots",
        dropped_at.len() + 1
    );
    Ok(())
}
