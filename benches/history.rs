//! History benchmark: `cargo bench --bench history -- --tickets 21000 --days 365 --rate 0.02`
//! (`--reuse` keeps the history a previous run built).
//!
//! Builds, with set-based SQL (not by importing 8,760 snapshots), a store of `--tickets`
//! tickets with `--days` of hourly history where `--rate` of the tickets change each
//! hour, seals its hours, then in one run times: the uncached backlog (the endpoint's
//! reads, computation and serialisation) for 90 days hourly and 365 days daily, beside
//! the SQL a DBA would write over `tickets.inc_history` for the same open counts; an
//! hourly import of a 21,312-row export with history capture and without; the history's
//! size on disk (the backfill has its own benchmark, `benches/backfill.rs`). Uses the database
//! `ft_bench_history` on `TEST_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432),
//! recreated each run.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use common::{arg, drop_store};
use fleettickets::config::DatabaseConfig;
use fleettickets::geocode::names::Aliases;
use fleettickets::history::backlog::{self, Interval};
use fleettickets::history::capture;
use fleettickets::history::sealed::{self, Parts};
use fleettickets::ingest::{self, Mode};
use fleettickets::ingest::{record, upsert};
use fleettickets::params::Filters;
use fleettickets_gen::{self as generate, SeriesSpec, Spec};
use sqlx::{Connection, PgPool};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The endpoint's uncached work: the sealed hours and versions read, the series, the JSON.
async fn backlog_ms(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
    filters: &Filters,
) -> anyhow::Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut points = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let buckets =
            backlog::buckets(from, to, interval).map_err(|n| anyhow::anyhow!("{n} buckets"))?;
        let parts = Parts::read(pool, &buckets, filters, 24.0).await?;
        let series = parts.series(filters, 24.0);
        let json = serde_json::to_vec(&series)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        points = series.len();
        std::hint::black_box(json);
    }
    Ok((median(times), points))
}

/// One hourly import (staging, the upsert with or without capture), rolled back so
/// every run starts from the same store. Returns the milliseconds of the whole and of
/// the upsert alone.
async fn import_ms(
    pool: &PgPool,
    path: &std::path::Path,
    capture: bool,
) -> anyhow::Result<(f64, f64)> {
    // The rolled-back writes of the last run are dead rows: gone before this one.
    sqlx::query("VACUUM tickets.inc, tickets.inc_history")
        .execute(pool)
        .await?;
    let aliases = Aliases::load(&mut *pool.acquire().await?).await?;
    let mut conn = pool.acquire().await?;
    let t = Instant::now();
    let mut tx = conn.begin().await?;
    ingest::writer_settings(&mut tx).await?;
    ingest::staging::stage(&mut tx, path, "bench", aliases, Mode::Apply).await?;
    let id = record::next_import_id(&mut tx).await?;
    let at = capture::history_time(&mut tx, capture::LIVE, Utc::now()).await?;
    let upsert_started = Instant::now();
    let lock = common::writer_lock(pool).await?;
    let changes = match capture {
        true => upsert::apply(&mut tx, &lock, at, id, upsert::Capture::Record).await?,
        false => upsert::apply(&mut tx, &lock, at, id, upsert::Capture::Skip).await?,
    };
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let times = (ms(t), ms(upsert_started));
    tx.rollback().await?;
    anyhow::ensure!(changes.updated > 0 && (changes.versions > 0) == capture);
    Ok(times)
}

/// What a DBA would write: the open count and its SLA split at each bucket end.
async fn dba_ms(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: &str,
) -> anyhow::Result<String> {
    let sql = format!(
        "SELECT e, count(*),
                count(*) FILTER (WHERE e - COALESCE(h.created_at_service, h.first_seen_at) >= interval '24 hours'),
                count(*) FILTER (WHERE e - COALESCE(h.created_at_service, h.first_seen_at) >= interval '18 hours')
         FROM generate_series($1::timestamptz + interval '{step}', $2, interval '{step}') e
         JOIN tickets.inc_history h ON h.is_actionable AND h.valid_from <= e
                                    AND (h.valid_to IS NULL OR h.valid_to > e)
         GROUP BY e ORDER BY e"
    );
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = '60s'")
        .execute(&mut *conn)
        .await?;
    let t = Instant::now();
    let result = sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await;
    Ok(match result {
        Ok(rows) => format!(
            "{:.0} ms ({} rows)",
            t.elapsed().as_secs_f64() * 1000.0,
            rows.len()
        ),
        Err(_) => "> 60 s (stopped by statement_timeout)".into(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tickets: i64 = arg("--tickets", 21_000);
    let days: i64 = arg("--days", 365);
    let rate: f64 = arg("--rate", 0.02);
    let server = common::server_url();
    // `--reuse`: keep the history a previous run left (it takes minutes to build).
    let reuse = std::env::args().any(|a| a == "--reuse");
    if !reuse {
        drop_store(&server, "ft_bench_history").await?;
    }
    let mut config = DatabaseConfig::new(format!("{server}/ft_bench_history"));
    config.db_statement_timeout_secs = 900;
    let pool = fleettickets::db::migrate(&config).await?;
    let end = DateTime::parse_from_rfc3339("2026-06-16T00:00:00+03:00")?.with_timezone(&Utc);
    let begin = end - Duration::days(days);

    // A year of history, set-based: each hour `rate` of the tickets get a new version
    // (status, cluster and owner drawn at random; ~12 % of versions actionable).
    let t = Instant::now();
    if !reuse {
        sqlx::raw_sql(&format!(
        "SET work_mem = '256MB';
         INSERT INTO tickets.history_capture (started_at) VALUES ('{begin}');
         CREATE TEMP TABLE changes AS
         SELECT DISTINCT (random() * ({tickets} - 1))::int AS k, h
         FROM generate_series(1, {hours}) h, generate_series(1, {per_hour}) n;
         INSERT INTO tickets.inc_history (ticket_id, valid_from, valid_to, normalized_status,
             is_actionable, cluster, region, owner, created_at_service, first_seen_at)
         SELECT 'INC' || lpad(k::text, 12, '0'), vf, lead(vf) OVER (PARTITION BY k ORDER BY vf),
                s.status, s.status IN ('OPEN', 'IN_PROGRESS', 'PENDING'),
                'Cluster ' || (k % 40), 'nairobi', 'Owner ' || (h % 8),
                vf - random() * interval '72 hours', vf
         FROM (SELECT k, 0 AS h, '{begin}'::timestamptz AS vf FROM generate_series(0, {tickets} - 1) k
               UNION ALL
               SELECT k, h, '{begin}'::timestamptz + h * interval '1 hour' FROM changes) c
         CROSS JOIN LATERAL (SELECT CASE WHEN random() < 0.12
                                         THEN (ARRAY['OPEN', 'IN_PROGRESS', 'PENDING'])[1 + (random() * 2)::int]
                                         ELSE (ARRAY['RESOLVED', 'CLOSED', 'CANCELLED'])[1 + (random() * 2)::int] END
                                     || repeat('', c.h) AS status) s;
         ANALYZE tickets.inc_history;",
        hours = days * 24,
        per_hour = (tickets as f64 * rate).round() as i64,
    ))
    .execute(&pool)
    .await?;
    }
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inc_history")
        .fetch_one(&pool)
        .await?;
    let size: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('tickets.inc_history')")
        .fetch_one(&pool)
        .await?;
    println!(
        "history: {tickets} tickets, {days} days hourly at {:.1} % change/hour: {versions} versions built in {:.0} s; {:.0} MB on disk with indexes ({:.0} MB per year)",
        rate * 100.0,
        t.elapsed().as_secs_f64(),
        size as f64 / 1e6,
        size as f64 / 1e6 * 365.0 / days as f64,
    );

    let t = Instant::now();
    let lock = common::writer_lock(&pool).await?;
    let hours = sealed::extend(&pool, &lock, 24.0, Utc::now()).await?;
    lock.release().await;
    println!(
        "sealed {hours} hours of the unfiltered backlog in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // What autovacuum does in production (and clears a `--reuse` run's dead rows).
    sqlx::query("VACUUM ANALYZE tickets.inc_history")
        .execute(&pool)
        .await?;
    let one_cluster = Filters::new(vec!["Cluster 7".into()], vec![])?;
    for (label, span, interval, step, filters) in [
        (
            "90 days hourly",
            90,
            Interval::Hour,
            "1 hour",
            Filters::default(),
        ),
        (
            "365 days daily",
            365.min(days),
            Interval::Day,
            "1 day",
            Filters::default(),
        ),
        (
            "90 days hourly, one cluster",
            90,
            Interval::Hour,
            "",
            one_cluster.clone(),
        ),
        (
            "365 days daily, one cluster",
            365.min(days),
            Interval::Day,
            "",
            one_cluster,
        ),
    ] {
        let from = end - Duration::days(span);
        let (ms, points) = backlog_ms(&pool, from, end, interval, &filters).await?;
        let dba = match step {
            "" => String::new(),
            step => format!("; DBA SQL {}", dba_ms(&pool, from, end, step).await?),
        };
        println!("backlog {label}: {points} points, uncached {ms:.1} ms (target 50 ms){dba}");
    }

    // An hourly import on this store: the generator's export, then its next hour.
    let dir = tempfile::tempdir()?;
    let mut files = Vec::new();
    generate::series(
        &SeriesSpec {
            base: Spec {
                rows: 21_312,
                seed: 7,
                as_of: end,
                truncated: false,
            },
            snapshots: 2,
            change_rate: rate,
            identical_at: None,
            stale_at: None,
        },
        |name, body| {
            let path = dir.path().join(name);
            files.push(path.clone());
            std::fs::write(path, body)
        },
    )?;
    common::apply(&pool, &files[0]).await?;
    sqlx::query("VACUUM FULL ANALYZE tickets.inc")
        .execute(&pool)
        .await?;
    // Alternated, so load on the machine weighs on both alike.
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        without.push(import_ms(&pool, &files[1], false).await?);
        with.push(import_ms(&pool, &files[1], true).await?);
    }
    let whole = |v: &[(f64, f64)]| median(v.iter().map(|t| t.0).collect());
    let upsert = |v: &[(f64, f64)]| median(v.iter().map(|t| t.1).collect());
    println!(
        "hourly import of 21,312 rows ({:.0} % changed) on this store: {:.0} ms with capture, {:.0} ms without = {:.3}x (target at most 1.10x); the upsert statement alone {:.0} ms vs {:.0} ms",
        rate * 100.0,
        whole(&with),
        whole(&without),
        whole(&with) / whole(&without),
        upsert(&with),
        upsert(&without),
    );

    if !reuse {
        drop_store(&server, "ft_bench_history").await?;
    }
    Ok(())
}
