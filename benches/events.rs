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
use common::{apply, arg, drop_store, fresh_store, memory_mb, percentile, write_snapshot, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const PG: &str = "postgres://postgres@127.0.0.1:5432";

/// Opens a stream and reads until its first frame (`retry:`): the client is connected.
async fn connect(addr: &str) -> anyhow::Result<(TcpStream, Vec<u8>)> {
    request(addr, "/api/v1/events", b"retry:").await
}

/// A connection that sent `GET path` and read up to `until`, left open.
async fn request(addr: &str, path: &str, until: &[u8]) -> anyhow::Result<(TcpStream, Vec<u8>)> {
    let mut socket = TcpStream::connect(addr).await?;
    socket
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())
        .await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !contains(&seen, until) {
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
        let body = metrics(client, base).await?;
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
    let synthetic = arg::<usize>("--synthetic-open", 1_000_000);
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
        let report = apply(&pool, &path).await?;
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

    drop(server);

    // Memory: idle streams against none, each kind on a fresh server; idle keep-alive
    // connections (one `/healthz` answered) give the HTTP stack's own share.
    for (what, path, until) in [
        ("idle streams", "/api/v1/events", &b"retry:"[..]),
        (
            "idle keep-alive connections",
            "/healthz",
            &b"\r\n\r\nok"[..],
        ),
    ] {
        let (server, client) = Server::start(&url, dir.path()).await?;
        let addr = server.base.trim_start_matches("http://").to_owned();
        scrapes(&client, &server.base, 5).await?; // the same warm-up for both
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (before, _) = memory_mb(server.pid());
        let mut held = Vec::with_capacity(idle);
        for _ in 0..idle {
            held.push(request(&addr, path, until).await?.0);
        }
        if path == "/api/v1/events" {
            anyhow::ensure!(
                streams(&client, &server.base).await? == idle,
                "not every stream is open"
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (after, _) = memory_mb(server.pid());
        println!(
            "server RSS: {before:.1} MB with none, {after:.1} MB with {idle} {what} => {:.1} KiB each",
            (after - before) * 1024.0 / idle as f64
        );
    }
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
    if synthetic > 0 {
        gauges_in_process(synthetic);
    }
    Ok(())
}

async fn metrics(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    Ok(client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

/// `fleettickets_event_streams` as the server reports it.
async fn streams(client: &reqwest::Client, base: &str) -> anyhow::Result<usize> {
    let text = metrics(client, base).await?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("fleettickets_event_streams "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no fleettickets_event_streams"))?;
    Ok(value)
}

/// The gauges' own cost (what a scrape adds over the registry) on `open` open tickets in
/// 50 clusters, in process: the worst case of an open set that large.
fn gauges_in_process(open: usize) {
    let now = Utc::now();
    let rules = fleettickets::dashboard::Rules {
        sla_target_hours: 24.0,
        stale_after: chrono::Duration::hours(3),
    };
    let tickets: Vec<fleettickets::dashboard::Ticket> = (0..open)
        .map(|i| fleettickets::dashboard::Ticket {
            ticket_id: format!("INC{i}").into(),
            cluster: (i % 51 != 0).then(|| format!("Cluster {}", i % 50).into()),
            created_at_service: Some(now - chrono::Duration::minutes((i % 4000) as i64)),
            is_actionable: Some(true),
            ..Default::default()
        })
        .collect();
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let text = fleettickets::gauges::render(&tickets, now, &rules, None, 0);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(text.contains("fleettickets_open_tickets{"));
    }
    times.sort_by(f64::total_cmp);
    println!(
        "gauges in process, {open} open tickets in 51 clusters: p50 {:.1} ms, max {:.1} ms over 10 renders",
        percentile(&times, 0.5),
        times[times.len() - 1]
    );
}
