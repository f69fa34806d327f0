//! History benchmark: `cargo bench --bench history -- --tickets 21000 --days 365 --rate 0.03`.
//!
//! Builds, with set-based SQL (not by importing 8,760 snapshots), a store of `--tickets`
//! tickets with `--days` of hourly history where `--rate` of the tickets change each
//! hour, then in one run times: the uncached backlog (the endpoint's query, computation
//! and serialisation) for 90 days hourly and 365 days daily, beside the SQL a DBA would
//! write over `tickets.inc_history` for the same open counts; the history's size on
//! disk; and the backfill of `--snapshots` archived hourly snapshots of the generator's
//! series (snapshots/s, this process's peak RSS). Uses the database `ft_bench_history` on
//! `TEST_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432), recreated each run.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use common::{arg, peak_rss_mb};
use fleettickets::config::{BucketConfig, DatabaseConfig};
use fleettickets::dashboard::params::Filters;
use fleettickets::history::backlog::{self, Interval};
use fleettickets::history::{backfill, read};
use fleettickets::ingest::bucket::Bucket;
use fleettickets::ingest::generate::{self, SeriesSpec, Spec};
use fleettickets::ingest::Mode;
use sqlx::{Connection, PgConnection, PgPool};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The endpoint's uncached work: the versions query, the sweep and the JSON.
async fn backlog_ms(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
) -> anyhow::Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut points = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let buckets =
            backlog::buckets(from, to, interval).map_err(|n| anyhow::anyhow!("{n} buckets"))?;
        let start = read::capture_start(pool).await?;
        let versions = read::versions(pool, buckets[0].t, to, &Filters::default()).await?;
        let series = backlog::compute(&versions, &buckets, start, &Filters::default(), 24.0);
        let json = serde_json::to_vec(&series)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        points = series.len();
        std::hint::black_box(json);
    }
    Ok((median(times), points))
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
    let rate: f64 = arg("--rate", 0.03);
    let snapshots: u32 = arg("--snapshots", 24);
    let server = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    // `--reuse`: keep the history a previous run left (it takes minutes to build).
    let reuse = std::env::args().any(|a| a == "--reuse");
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    if !reuse {
        sqlx::query("DROP DATABASE IF EXISTS ft_bench_history WITH (FORCE)")
            .execute(&mut admin)
            .await?;
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

    for (label, span, interval, step) in [
        // 2,000 hourly buckets is the API's limit (90 days would be 2,160).
        ("83 days hourly", 83, Interval::Hour, "1 hour"),
        ("365 days daily", 365.min(days), Interval::Day, "1 day"),
    ] {
        let from = end - Duration::days(span);
        let (ms, points) = backlog_ms(&pool, from, end, interval).await?;
        let dba = dba_ms(&pool, from, end, step).await?;
        println!(
            "backlog {label}: {points} points, uncached {ms:.0} ms (target 50 ms); DBA SQL {dba}"
        );
    }

    // Backfill: an archive of hourly snapshots of a 21k-ticket export.
    let dir = tempfile::tempdir()?;
    let bucket = Bucket::from_config(&BucketConfig::local(dir.path()))?;
    let series = SeriesSpec {
        base: Spec {
            rows: 21_312,
            seed: 1,
            as_of: end,
            truncated: false,
        },
        snapshots,
        change_rate: rate,
        identical_at: None,
        stale_at: None,
    };
    // Written straight into the local bucket's archive folder, one at a time.
    let archive = dir.path().join("automations/inc/processed");
    std::fs::create_dir_all(&archive)?;
    generate::series(&series, |name, body| {
        std::fs::write(archive.join(name), body)
    })?;
    sqlx::raw_sql("TRUNCATE tickets.inc_history; DELETE FROM tickets.history_capture")
        .execute(&pool)
        .await?;
    let rss_before = peak_rss_mb();
    let t = Instant::now();
    let report = backfill::run(&pool, &bucket, &config.database_url, Mode::Apply, |_| {}).await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "backfill: {} snapshots of 21,312 rows, {} versions in {secs:.1} s = {:.2} snapshots/s; peak RSS {:.0} MB (before: {rss_before:.0} MB)",
        report.snapshots,
        report.versions,
        report.snapshots as f64 / secs,
        peak_rss_mb(),
    );
    pool.close().await;
    sqlx::query("DROP DATABASE IF EXISTS ft_bench_history WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    Ok(())
}
