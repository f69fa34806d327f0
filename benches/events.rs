//! Event-stream and gauge benchmark:
//! `cargo bench --bench events --profile dev -- --rows 21312 --clients 1000 --imports 10 --idle 10000 --big-rows 1000000`
//!
//! One real `fleettickets serve` on a fresh store of generated tickets: the time from an
//! import's commit (its return, NOTIFY sent) to `data_changed` read by each of
//! `--clients` connected streams (p50/p99 over every client and import); the server's
//! RSS with `--idle` idle streams against none; the cost of a `/metrics` scrape with the
//! business gauges at `--rows` and at `--big-rows` tickets (0 skips the big store).
//! Streams are raw TCP connections (one socket each, no client library in the way).

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{arg, drop_store, fresh_store, memory_mb, percentile, write_snapshot, Server};
use fleettickets::ingest::{self, Mode, Source};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const PG: &str = "postgres://postgres@127.0.0.1:5432";

/// Opens a stream and reads until its first frame (`retry:`): the client is connected.
async fn connect(addr: &str) -> anyhow::Result<(TcpStream, Vec<u8>)> {
    let mut socket = TcpStream::connect(addr).await?;
    socket
        .write_all(b"GET /api/v1/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !contains(&seen, b"retry:") {
        let n = socket.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "the stream closed before its first frame");
        seen.extend_from_slice(&buf[..n]);
    }
    anyhow::ensure!(
        seen.starts_with(b"HTTP/1.1 200"),
        "not a stream: {}",
        String::from_utf8_lossy(&seen)
    );
    Ok((socket, seen))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads a connected stream, sending `(import id, when read)` for each `data_changed`.
async fn follow(mut socket: TcpStream, tx: mpsc::UnboundedSender<(i64, Instant)>) {
    const MARK: &str = "event: data_changed\nid: ";
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = socket.read(&mut buf).await {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        while let Some(at) = text.find(MARK) {
            let rest = &text[at + MARK.len()..];
            let Some(end) = rest.find('\n') else { break };
            let id = rest[..end].parse().unwrap_or(-1);
            tx.send((id, now)).ok();
            text.drain(..at + MARK.len() + end);
        }
    }
}

/// Times `n` scrapes of `/metrics`: p50 and p99 in ms, and the body's size.
async fn scrapes(
    client: &reqwest::Client,
    base: &str,
    n: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..n {
        let t = Instant::now();
        let body = client
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            body.contains("fleettickets_open_tickets{"),
            "no business gauges"
        );
        size = body.len();
    }
    times.sort_by(f64::total_cmp);
    Ok((percentile(&times, 0.5), percentile(&times, 0.99), size))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = arg::<u64>("--rows", 21_312);
    let clients = arg::<usize>("--clients", 1000);
    let imports = arg::<u64>("--imports", 10);
    let idle = arg::<usize>("--idle", 10_000);
    let big_rows = arg::<u64>("--big-rows", 1_000_000);
    let dir = tempfile::tempdir()?;
    let first = dir.path().join("2026-06-16T071500.csv");
    write_snapshot(&first, rows, 1, Utc::now())?;
    let (url, pool, _) = fresh_store(PG, "ft_bench_events", &first).await?;
    let (server, client) = Server::start(&url, dir.path()).await?;
    let addr = server.base.trim_start_matches("http://").to_owned();

    let (p50, p99, size) = scrapes(&client, &server.base, 50).await?;
    println!("/metrics at {rows} tickets: p50 {p50:.2} ms, p99 {p99:.2} ms over 50 scrapes ({size} bytes)");

    // Commit → data_changed at every client.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut readers = Vec::new();
    for _ in 0..clients {
        let (socket, _) = connect(&addr).await?;
        readers.push(tokio::spawn(follow(socket, tx.clone())));
    }
    let mut latencies = Vec::new();
    for seed in 2..2 + imports {
        let path = dir.path().join(format!("2026-06-16T0716{seed:02}.csv"));
        write_snapshot(&path, rows, seed, Utc::now())?;
        let report =
            ingest::import_file(&pool, &path, Source::local_file(&path), Mode::Apply).await?;
        let committed = Instant::now();
        let id = report.import_id.unwrap_or_default();
        let mut got = 0;
        while got < clients {
            let (event, at) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the readers ended"))?;
            if event == id {
                latencies.push(at.saturating_duration_since(committed).as_secs_f64() * 1000.0);
                got += 1;
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "import commit → data_changed read, {clients} clients × {imports} imports of {rows} tickets: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    for r in &readers {
        r.abort();
    }
    drop(readers);

    // Memory: idle streams against none.
    let gone = Instant::now();
    while streams(&client, &server.base).await? > 0 {
        anyhow::ensure!(
            gone.elapsed() < Duration::from_secs(60),
            "the closed streams stay counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (before, _) = memory_mb(server.pid());
    let mut held = Vec::with_capacity(idle);
    for _ in 0..idle {
        held.push(connect(&addr).await?.0);
    }
    anyhow::ensure!(
        streams(&client, &server.base).await? == idle,
        "not every stream is open"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, _) = memory_mb(server.pid());
    println!(
        "server RSS: {before:.1} MB with no stream, {after:.1} MB with {idle} idle streams => {:.1} KiB per stream",
        (after - before) * 1024.0 / idle as f64
    );
    drop(held);
    drop(server);
    drop(pool);
    drop_store(PG, "ft_bench_events").await?;

    if big_rows > 0 {
        let big = dir.path().join("2026-06-16T081500.csv");
        write_snapshot(&big, big_rows, 7, Utc::now())?;
        let (url, pool, _) = fresh_store(PG, "ft_bench_events_big", &big).await?;
        let (server, client) = Server::start(&url, dir.path()).await?;
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inc WHERE is_actionable")
            .fetch_one(&pool)
            .await?;
        let (p50, p99, size) = scrapes(&client, &server.base, 20).await?;
        println!("/metrics at {big_rows} tickets ({open} open): p50 {p50:.2} ms, p99 {p99:.2} ms over 20 scrapes ({size} bytes)");
        drop(server);
        drop(pool);
        drop_store(PG, "ft_bench_events_big").await?;
    }
    Ok(())
}

/// `fleettickets_event_streams` as the server reports it.
async fn streams(client: &reqwest::Client, base: &str) -> anyhow::Result<usize> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("fleettickets_event_streams "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no fleettickets_event_streams"))?;
    Ok(value)
}
