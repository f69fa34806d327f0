//! Nearest benchmark: `cargo bench --bench nearest -- [--samples 200] [--big-rows 1000000] [--big-open 25000]`.
//!
//! In one run, on a 21,312-ticket store and on a big store (default 1M tickets, of which
//! 25,000 are made open): uncached `GET /api/v1/inc/nearest` p50/p99 over HTTP from the
//! real binary (`fleettickets serve`), answered from the in-memory open set, and the same
//! question asked of PostGIS (`ORDER BY geog <-> point LIMIT n`, a KNN scan of the GiST
//! index) for the same positions; and a check that the API's distances are PostGIS
//! `ST_Distance` to the metre. On both stores too: uncached `GET /api/v1/inc/teams`
//! (today, week, month; each request its own `as_of`) and the history query that
//! attributes the month's closures (run once per data change, when the server reloads).
//! Databases `ft_bench_near`, dropped after.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use common::{arg, drop_store, fresh_store, percentile, write_snapshot};
use serde_json::Value;
use sqlx::PgPool;

const AS_OF: &str = "2026-06-16T10:00:00+03:00";
const LIMIT: u32 = 10;

/// Positions spread over Kenya's bounding box (splitmix64, the same every run).
fn positions(n: usize) -> Vec<(f64, f64)> {
    let mut state = 7u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| (-4.7 + 9.7 * next(), 33.9 + 8.0 * next()))
        .collect()
}

const KNN: &str = "SELECT ticket_id, ST_Distance(geog, p) AS m
    FROM tickets.inc, (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS p) o
    WHERE is_actionable AND geog IS NOT NULL
    ORDER BY geog <-> p LIMIT $3";

async fn store(
    server_url: &str,
    rows: u64,
    open: Option<u64>,
    dir: &std::path::Path,
) -> anyhow::Result<(String, PgPool)> {
    let path = dir.join("2026-06-16T071502.csv");
    let as_of = chrono::DateTime::parse_from_rfc3339(AS_OF)?.with_timezone(&chrono::Utc);
    write_snapshot(&path, rows, 1, as_of)?;
    let (db_url, pool, secs) = fresh_store(server_url, "ft_bench_near", &path).await?;
    if let Some(open) = open {
        common::reopen(&db_url, open).await?;
    }
    sqlx::query("ANALYZE tickets.inc").execute(&pool).await?;
    std::fs::remove_file(&path)?;
    println!("{rows} generated tickets imported in {secs:.1} s");
    Ok((db_url, pool))
}

async fn run(server_url: &str, rows: u64, open: Option<u64>, samples: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db_url, pool) = store(server_url, rows, open, dir.path()).await?;
    let (n_open, n_placed): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(geog) FROM tickets.inc WHERE is_actionable")
            .fetch_one(&pool)
            .await?;
    let (_server, client) = common::Server::start(&db_url, &dir.path().join("bucket")).await?;
    let base = _server.base.clone();
    let points = positions(samples);
    let url = |(lat, lon): (f64, f64)| {
        format!("{base}/api/v1/inc/nearest?lat={lat}&lon={lon}&limit={LIMIT}")
    };
    // Warm-up (connections, the first reload), then the check on a few positions.
    for &p in points.iter().take(10) {
        client.get(url(p)).send().await?.bytes().await?;
    }
    let (mut mismatches, mut same_ids) = (0, 0);
    for &(lat, lon) in points.iter().take(20) {
        let api: Value = client.get(url((lat, lon))).send().await?.json().await?;
        let knn: Vec<(String, f64)> = sqlx::query_as(KNN)
            .bind(lat)
            .bind(lon)
            .bind(i64::from(LIMIT))
            .fetch_all(&pool)
            .await?;
        let features = api["features"].as_array().cloned().unwrap_or_default();
        for f in &features {
            let id = f["id"].as_str().unwrap_or_default();
            let pg: f64 = sqlx::query_scalar(
                "SELECT ST_Distance(geog, ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography) FROM tickets.inc WHERE ticket_id = $3",
            )
            .bind(lat)
            .bind(lon)
            .bind(id)
            .fetch_one(&pool)
            .await?;
            let km = f["properties"]["distance_km"].as_f64().unwrap_or(f64::NAN);
            if (km * 1000.0).round() as i64 != pg.round() as i64 {
                mismatches += 1;
            }
        }
        // The same distances as the KNN answer (ids may differ among equal distances).
        let ours: Vec<i64> = features
            .iter()
            .map(|f| {
                (f["properties"]["distance_km"].as_f64().unwrap_or(f64::NAN) * 1000.0).round()
                    as i64
            })
            .collect();
        let theirs: Vec<i64> = knn.iter().map(|(_, m)| m.round() as i64).collect();
        same_ids += usize::from(ours == theirs);
    }
    println!(
        "  {n_open} open ({n_placed} with a point); check on 20 positions: {mismatches} distances differ from ST_Distance (rounded to metres); \
         the KNN's top-{LIMIT} distances equal ours for {same_ids}/20"
    );
    anyhow::ensure!(mismatches == 0, "distances differ from PostGIS");
    let (mut api_ms, mut knn_ms) = (Vec::new(), Vec::new());
    for &(lat, lon) in &points {
        let t = Instant::now();
        let body = client.get(url((lat, lon))).send().await?.bytes().await?;
        api_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(body.len() > 100, "an answer");
        let t = Instant::now();
        let rows: Vec<(String, f64)> = sqlx::query_as(KNN)
            .bind(lat)
            .bind(lon)
            .bind(i64::from(LIMIT))
            .fetch_all(&pool)
            .await?;
        knn_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(rows.len() == LIMIT as usize, "a KNN answer");
    }
    api_ms.sort_by(f64::total_cmp);
    knn_ms.sort_by(f64::total_cmp);
    println!(
        "  nearest limit={LIMIT}, {samples} positions: API over HTTP p50 {:.2} ms / p99 {:.2} ms; \
         PostGIS KNN (query alone) p50 {:.2} ms / p99 {:.2} ms => API {:.1}x the KNN's speed at p50",
        percentile(&api_ms, 0.5),
        percentile(&api_ms, 0.99),
        percentile(&knn_ms, 0.5),
        percentile(&knn_ms, 0.99),
        percentile(&knn_ms, 0.5) / percentile(&api_ms, 0.5),
    );
    teams(&client, &base, &pool).await?;
    pool.close().await;
    Ok(())
}

/// Uncached `teams` per window over HTTP (identity), and the attribution query alone.
async fn teams(client: &reqwest::Client, base: &str, pool: &PgPool) -> anyhow::Result<()> {
    let as_of = chrono::DateTime::parse_from_rfc3339(AS_OF)?;
    for window in ["today", "week", "month"] {
        let mut times = Vec::new();
        let mut rows = 0;
        for i in 0..TEAMS_SAMPLES {
            let t = (as_of + chrono::Duration::milliseconds(i + 1)).to_rfc3339();
            let url = format!(
                "{base}/api/v1/inc/teams?window={window}&as_of={}",
                t.replace('+', "%2B")
            );
            let started = Instant::now();
            let body: Value = client
                .get(url)
                .header("accept-encoding", "identity")
                .send()
                .await?
                .json()
                .await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows = body["rows"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(body["total"]["open"].as_u64() > Some(0), "a teams table");
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  teams window={window:<5} uncached over HTTP, {TEAMS_SAMPLES} requests: median {:.1} ms / p95 {:.1} ms ({rows} rows)",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
        );
    }
    let month = fleettickets::params::parse(
        &format!("window=month&as_of={}", AS_OF.replace('+', "%2B")),
        chrono::Utc::now(),
    )?;
    let closed: Vec<String> = sqlx::query_scalar(
        "SELECT ticket_id FROM tickets.inc WHERE closed_at >= $1 AND closed_at < $2",
    )
    .bind(month.window.from)
    .bind(month.window.to)
    .fetch_all(pool)
    .await?;
    let ids: Vec<&str> = closed.iter().map(String::as_str).collect();
    let started = Instant::now();
    fleettickets::read::attribution::closing_holders(pool, &ids).await?;
    println!(
        "  the month's closures ({}) attributed from the history: {:.1} ms (once per data change)",
        ids.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

/// Requests per window for `teams`.
const TEAMS_SAMPLES: i64 = 15;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let samples = arg::<u64>("--samples", 200) as usize;
    let big_rows = arg::<u64>("--big-rows", 1_000_000);
    let big_open = arg::<u64>("--big-open", 25_000);
    let server_url = common::server_url();
    println!("store of 21312 tickets:");
    run(&server_url, 21_312, None, samples).await?;
    if big_rows > 0 {
        println!("store of {big_rows} tickets, {big_open} open:");
        run(&server_url, big_rows, Some(big_open), samples).await?;
    }
    drop_store(&server_url, "ft_bench_near").await?;
    Ok(())
}
